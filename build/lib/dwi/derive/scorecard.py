"""The review's six-point scorecard as data: recompute every outcome, priority and programme grade from
the grades below it, compare with what the source reports, and explain each disagreement.

Method (the review's Table 2 and sections 2.3-2.5):
* A parent's computed grade is the plain mean of its children's grades, computed bottom-up:
  sub_activity -> activity -> outcome -> priority -> programme (a programme row is added by dwi; the
  source has none). The grade a child contributes is its REPORTED grade when the source gives one (the
  review averages its own printed grades), else its computed mean (unrounded).
* If any child has no grade (neither reported nor computable), the parent is NOT computed: computed_grade
  is NULL, the verdict is 'not computable' and the note names the missing children (and, for
  information only, the mean of the graded ones). A mean over some of the children would be a new
  number the source never implied.
* Rounding: half up (5.25 -> 5.3, 4.65 -> 4.7), in exact decimal arithmetic (polars Decimal, 12 places;
  never Python's round(), which rounds half to even), to the reported grade's printed precision (at
  least one decimal: a printed '5' is read as 5.0). A reported g printed with d decimals stands for a
  mean in [g - 0.5*10^-d, g + 0.5*10^-d); that interval is exactly the set of means that round half up
  to g, so the verdict is 'consistent' iff computed_grade = reported_grade (difference = 0).
* Where the source does not grade some children of a graded parent, the parent's reported grade still
  bounds them: their sum lies in [n(g-h) - S, n(g+h) - S) with S the sum of the reported grades of the
  other children, intersected with the scale (k children: [k*1, k*6]). That is how Priority 2's 5.2
  bounds Outcome 2.2; nothing is hard-coded.

Verdicts: parents: consistent | inconsistent | not reported (computed, the source prints no grade) |
not computable (a child has no grade); leaves (no children): input (a grade the source gives, used as
an input) | missing (no grade in the source).
"""

from __future__ import annotations

import duckdb
import polars as pl

from dwi.reference import Reference

LEVELS_UP = ["sub_activity", "activity", "outcome", "priority", "programme"]
PLURAL = {"sub_activity": "sub-activities", "activity": "activities", "outcome": "outcomes", "priority": "priorities"}
SCALE = (1, 6)
DEC = pl.Decimal(38, 12)
COLUMNS = [
    "level",
    "code",
    "title",
    "computed_grade",
    "reported_grade",
    "difference",
    "verdict",
    "note",
    "programme",
    "parent_code",
    "grade_basis",
    "computed_mean",
    "children",
    "n_children",
    "n_graded_children",
    "grade_used",
    "grade_used_basis",
    "implied_low",
    "implied_high",
    "reported_text",
    "status_text",
    "source_id",
    "source_row",
    "sort_key",
]


def _dec(value: float | int) -> pl.Expr:
    return pl.lit(str(value)).cast(DEC)


def half_up(x: pl.Expr, decimals: pl.Expr | int) -> pl.Expr:
    """Round a Decimal half up (away from zero for the non-negative grades here) to `decimals` places."""
    scale = pl.lit(10).pow(decimals).cast(DEC) if isinstance(decimals, pl.Expr) else _dec(10**decimals)
    return (x * scale + _dec(0.5)).floor() / scale


def num(x: pl.Expr) -> pl.Expr:
    """A Decimal as printed: no trailing zeros ('5.300000000000' -> '5.3', '6.000000000000' -> '6')."""
    return x.cast(pl.String).str.replace(r"0+$", "").str.replace(r"\.$", "")


def nodes(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The current vintage of every programme's tree, prepared by tree()."""
    return tree(
        con.sql("""
        SELECT a.programme, a.level, a.code, a.parent_code, a.title, a.status_text, a.grade_reported,
               a.grade_basis, a.source_id, a.source_row
        FROM _dwcp_assessments a JOIN stg_current_loads c USING (source_id, load_id)""").pl()
    )


def tree(rows: pl.DataFrame) -> pl.DataFrame:
    """Assessment rows (programme, level, code, parent_code, title, status_text, grade_reported as printed,
    grade_basis, source_id, source_row) plus one programme row per programme, with the reported grade as
    an exact Decimal, its printed precision and a sort key."""
    rows = rows.with_columns(
        pl.when(pl.col("level") == "priority")
        .then(pl.col("programme"))
        .otherwise(pl.col("parent_code"))
        .alias("parent_key")
    )
    programmes = (
        rows.group_by("programme")
        .agg(pl.col("source_id").first())
        .select(
            "programme",
            pl.lit("programme").alias("level"),
            pl.col("programme").alias("code"),
            pl.lit(None, pl.String).alias("parent_code"),
            pl.lit("whole programme (computed by dwi)").alias("title"),
            pl.lit(None, pl.String).alias("status_text"),
            pl.lit(None, pl.String).alias("grade_reported"),
            pl.lit("missing").alias("grade_basis"),
            "source_id",
            pl.lit(None, pl.Int32).alias("source_row"),
            pl.lit(None, pl.String).alias("parent_key"),
        )
    )
    both = pl.concat([rows, programmes.select(rows.columns)], how="vertical_relaxed")
    printed = pl.col("grade_reported").str.strip_chars()
    return both.with_columns(
        printed.cast(DEC).alias("reported"),
        pl.max_horizontal(pl.lit(1), printed.str.extract(r"\.(\d+)$").str.len_chars().fill_null(0))
        .cast(pl.Int64)
        .alias("decimals"),
        pl.when(pl.col("level") == "programme")
        .then(pl.lit(""))
        .otherwise(pl.col("code").str.split(".").list.eval(pl.element().str.zfill(4)).list.join("."))
        .alias("sort_key"),
    ).sort("programme", "sort_key")


def _children(below: pl.DataFrame) -> pl.DataFrame:
    """Per parent: how many children, how many graded, their grades, which are missing/inferred/unreported."""
    used, code = pl.col("grade_used"), pl.col("code")
    unreported = pl.col("reported").is_null()
    return (
        below.sort("sort_key")
        .group_by("programme", "parent_key")
        .agg(
            pl.len().alias("n_children"),
            used.is_not_null().sum().alias("n_graded_children"),
            used.sum().alias("total"),
            pl.concat_str(code, pl.lit("="), num(used).fill_null("?")).str.join("; ").alias("children"),
            num(used).fill_null("?").str.join(", ").alias("child_values"),
            code.filter(used.is_null()).str.join(", ").alias("missing_codes"),
            code.filter(pl.col("grade_used_basis") == "inferred").str.join(", ").alias("inferred_codes"),
            pl.concat_str(pl.col("level"), pl.lit(" "), code)
            .filter(unreported & used.is_not_null())
            .str.join(", ")
            .alias("computed_codes"),
            pl.col("reported").sum().alias("reported_sum"),
            unreported.sum().alias("n_unreported"),
            code.filter(unreported).str.join(", ").alias("unreported_codes"),
            code.filter(unreported).alias("unreported_list"),
        )
        .rename({"parent_key": "code"})
    )


def _score_level(frame: pl.DataFrame, below: pl.DataFrame | None) -> pl.DataFrame:
    if below is None or below.height == 0:
        frame = frame.with_columns(pl.lit(0, pl.UInt32).alias("n_children"))
    else:
        frame = frame.join(_children(below), on=["programme", "code"], how="left").with_columns(
            pl.col("n_children").fill_null(0)
        )
    for col, dtype in (
        ("n_graded_children", pl.UInt32),
        ("total", DEC),
        ("reported_sum", DEC),
        ("n_unreported", pl.UInt32),
        ("unreported_list", pl.List(pl.String)),
        *[
            (c, pl.String)
            for c in (
                "children",
                "child_values",
                "missing_codes",
                "inferred_codes",
                "computed_codes",
                "unreported_codes",
            )
        ],
    ):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(col))
    complete = (pl.col("n_children") > 0) & (pl.col("n_graded_children") == pl.col("n_children"))
    mean = pl.when(complete).then(pl.col("total") / pl.col("n_children").cast(DEC))
    return frame.with_columns(mean.alias("computed_mean")).with_columns(
        half_up(pl.col("computed_mean"), pl.col("decimals")).alias("computed_grade"),
        pl.coalesce("reported", "computed_mean").alias("grade_used"),
        pl.when(pl.col("reported").is_not_null())
        .then(pl.col("grade_basis"))
        .when(pl.col("computed_mean").is_not_null())
        .then(pl.lit("computed"))
        .otherwise(pl.lit("missing"))
        .alias("grade_used_basis"),
    )


def _implied(scored: pl.DataFrame) -> pl.DataFrame:
    """For graded parents with ungraded children: the interval the parent's reported grade implies for
    the sum of those children (k of n), intersected with the scale."""
    n, k = pl.col("n_children").cast(DEC), pl.col("n_unreported").cast(DEC)
    half = _dec(0.5) / pl.lit(10).pow(pl.col("decimals")).cast(DEC)
    raw_low = n * (pl.col("reported") - half) - pl.col("reported_sum").fill_null(_dec(0))
    raw_high = n * (pl.col("reported") + half) - pl.col("reported_sum").fill_null(_dec(0))
    out = scored.filter(pl.col("reported").is_not_null(), pl.col("n_unreported") > 0).select(
        "programme",
        "code",
        "level",
        "reported",
        "n_unreported",
        "unreported_codes",
        "unreported_list",
        pl.max_horizontal(raw_low, k * _dec(SCALE[0])).alias("low"),
        pl.min_horizontal(raw_high, k * _dec(SCALE[1])).alias("high"),
        (raw_high > k * _dec(SCALE[1])).alias("capped"),
    )
    empty = (pl.col("low") > pl.col("high")) | ((pl.col("low") == pl.col("high")) & ~pl.col("capped"))
    interval = pl.concat_str(
        pl.lit("["),
        num(pl.col("low")),
        pl.lit(", "),
        num(pl.col("high")),
        pl.when(pl.col("capped")).then(pl.lit("]")).otherwise(pl.lit(")")),
    )
    what = (
        pl.when(pl.col("n_unreported") == 1)
        .then(pl.concat_str(pl.col("unreported_codes"), pl.lit(" in "), interval))
        .otherwise(
            pl.concat_str(
                pl.lit("the sum of "),
                pl.col("unreported_codes"),
                pl.lit(" in "),
                interval,
                pl.lit(" (mean "),
                num(half_up(pl.col("low") / k, 2)),
                pl.lit(" to "),
                num(half_up(pl.col("high") / k, 2)),
                pl.lit(")"),
            )
        )
    )
    return out.with_columns(
        pl.when(empty)
        .then(
            pl.concat_str(
                pl.lit("no grades on the scale "),
                pl.lit(f"{SCALE[0]}-{SCALE[1]}"),
                pl.lit(" for "),
                pl.col("unreported_codes"),
                pl.lit(" fit"),
            )
        )
        .otherwise(what)
        .alias("implies"),
        ~empty.alias("fits"),
    )


def _join_notes(*parts: pl.Expr) -> pl.Expr:
    return pl.concat_list([p.cast(pl.String) for p in parts]).list.drop_nulls().list.join("; ")


def score(tree: pl.DataFrame) -> pl.DataFrame:
    """Score a tree from nodes(): one row per node with computed and reported grade, verdict and note."""
    below, levels = None, []
    for level in LEVELS_UP:
        below = _score_level(tree.filter(pl.col("level") == level), below)
        levels.append(below)
    scored = pl.concat(levels, how="diagonal_relaxed")
    implied = _implied(scored)
    single = pl.col("n_unreported") == 1
    from_parent = implied.explode("unreported_list").select(
        "programme",
        pl.col("unreported_list").alias("code"),
        pl.when(single & pl.col("fits")).then(pl.col("low")).alias("implied_low"),
        pl.when(single & pl.col("fits")).then(pl.col("high")).alias("implied_high"),
        "capped",
        pl.concat_str(
            pl.col("level").str.to_titlecase(),
            pl.lit(" "),
            pl.col("code"),
            pl.lit("'s reported "),
            num(pl.col("reported")),
            pl.lit(" implies "),
            pl.col("implies"),
        ).alias("parent_implies"),
    )
    key = ["programme", "code"]
    scored = scored.join(implied.select(*key, "implies"), on=key, how="left").join(from_parent, on=key, how="left")

    leaf = pl.col("n_children") == 0
    reported, computed = pl.col("reported"), pl.col("computed_grade")
    verdict = (
        pl.when(leaf & reported.is_not_null())
        .then(pl.lit("input"))
        .when(leaf)
        .then(pl.lit("missing"))
        .when(computed.is_null())
        .then(pl.lit("not computable"))
        .when(reported.is_null())
        .then(pl.lit("not reported"))
        .when(reported == computed)
        .then(pl.lit("consistent"))
        .otherwise(pl.lit("inconsistent"))
    )
    plural = pl.col("child_level").replace_strict(PLURAL, default="children")
    mean2 = num(half_up(pl.col("computed_mean"), 2))
    half = _dec(0.5) / pl.lit(10).pow(pl.col("decimals")).cast(DEC)
    partial = pl.col("total") / pl.col("n_graded_children").cast(DEC)
    mean = pl.col("computed_mean")
    outside = (
        mean.is_not_null()
        & pl.col("implied_low").is_not_null()
        & (
            (mean < pl.col("implied_low"))
            | (mean > pl.col("implied_high"))
            | ((mean == pl.col("implied_high")) & ~pl.col("capped"))
        )
    )
    note = _join_notes(
        pl.when(~leaf & pl.col("computed_mean").is_not_null()).then(
            pl.concat_str(
                pl.lit("mean of "),
                pl.col("n_children").cast(pl.String),
                pl.lit(" "),
                plural,
                pl.lit(" ("),
                pl.col("child_values"),
                pl.lit(") = "),
                mean2,
                pl.lit(" -> "),
                num(computed),
                pl.lit(" (half up)"),
            )
        ),
        pl.when(pl.col("verdict") == "inconsistent").then(
            pl.concat_str(
                pl.lit("INCONSISTENT: reported "),
                num(reported),
                pl.lit(" needs a mean in ["),
                num(reported - half),
                pl.lit(", "),
                num(reported + half),
                pl.lit("), the children's grades give "),
                mean2,
            )
        ),
        pl.when(pl.col("verdict") == "not computable").then(
            pl.concat_str(
                pl.lit("no grade for "),
                (pl.col("n_children") - pl.col("n_graded_children")).cast(pl.String),
                pl.lit(" of "),
                pl.col("n_children").cast(pl.String),
                pl.lit(" "),
                plural,
                pl.lit(": "),
                pl.col("missing_codes"),
                pl.when(pl.col("n_graded_children") > 0)
                .then(
                    pl.concat_str(
                        pl.lit(" (for information only: the "),
                        pl.col("n_graded_children").cast(pl.String),
                        pl.lit(" graded average "),
                        num(half_up(partial, 2)),
                        pl.lit(")"),
                    )
                )
                .otherwise(pl.lit("")),
            )
        ),
        pl.when(pl.col("verdict") == "not reported").then(pl.lit("the source prints no grade")),
        pl.when(pl.col("verdict") == "missing").then(pl.lit("no grade in the source")),
        pl.when(~leaf & (pl.col("grade_basis") == "inferred")).then(pl.lit("the reported grade is inferred")),
        pl.when(leaf & (pl.col("grade_basis") == "inferred")).then(pl.lit("grade inferred (see the source note)")),
        pl.when(~leaf & pl.col("computed_mean").is_not_null() & (pl.col("computed_codes") != "")).then(
            pl.concat_str(pl.lit("uses the computed (not reported) grade of "), pl.col("computed_codes"))
        ),
        pl.when(~leaf & (pl.col("inferred_codes") != "")).then(
            pl.concat_str(pl.lit("inputs include inferred grades: "), pl.col("inferred_codes"))
        ),
        pl.when(pl.col("implies").is_not_null()).then(
            pl.concat_str(pl.lit("reported "), num(reported), pl.lit(" implies "), pl.col("implies"))
        ),
        pl.when(pl.col("parent_implies").is_not_null()).then(
            pl.concat_str(
                pl.col("parent_implies"),
                pl.when(outside)
                .then(pl.concat_str(pl.lit("; the computed mean "), mean2, pl.lit(" lies outside")))
                .otherwise(pl.lit("")),
            )
        ),
    )
    child_level = pl.col("level").replace_strict(
        {lvl: LEVELS_UP[i - 1] for i, lvl in enumerate(LEVELS_UP) if i}, default=None
    )
    as_float = [
        pl.col(c).cast(pl.Float64)
        for c in ("computed_grade", "computed_mean", "grade_used", "implied_low", "implied_high")
    ]
    return (
        scored.with_columns(verdict.alias("verdict"), child_level.alias("child_level"))
        .with_columns(note.alias("note"), (reported - computed).cast(pl.Float64).alias("difference"))
        .with_columns(
            *as_float,
            reported.cast(pl.Float64).alias("reported_grade"),
            pl.col("grade_reported").alias("reported_text"),
            pl.col("parent_code").alias("parent_code"),
            pl.col("n_graded_children").fill_null(0),
        )
        .select(COLUMNS)
        .sort("programme", "sort_key")
    )


def compute(con: duckdb.DuckDBPyConnection, ref: Reference | None = None) -> pl.DataFrame:
    """The rows of _dwcp_scores (the dwcp_scores view reads them)."""
    return score(nodes(con))


def radar_series(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Radar-chart data, one chart per outcome (axes: its activities) and per priority (axes: its outcomes),
    like the review's Figures 6-16. grade is the grade the scorecard uses for the axis (reported, else
    computed; NULL when missing); basis says which (stated / implied / inferred / computed / missing)."""
    return con.sql("""
        SELECT p.programme, p.code AS chart_code, p.level AS chart_level, p.title AS chart_title,
               c.code AS axis_code,
               CASE c.level WHEN 'activity' THEN 'Activity ' ELSE 'Outcome ' END || c.code AS axis_label,
               c.grade_used AS grade, c.grade_used_basis AS basis, c.title AS axis_title
        FROM dwcp_scores p
        JOIN dwcp_scores c ON c.programme = p.programme AND c.parent_code = p.code
             AND c.level = CASE p.level WHEN 'outcome' THEN 'activity' ELSE 'outcome' END
        WHERE p.level IN ('outcome', 'priority')
        ORDER BY p.programme, p.level = 'priority', p.sort_key, c.sort_key""").pl()


VERDICT_STYLE = {
    "consistent": ("green", "consistent"),
    "inconsistent": ("bold red", "INCONSISTENT"),
    "not reported": ("yellow", "not reported"),
    "not computable": ("magenta", "not computable"),
    "missing": ("bold red", "MISSING grade"),
    "input": ("", ""),
}


def read_scores(warehouse, programme: str | None = None) -> pl.DataFrame:
    """dwcp_scores from a warehouse file (read-only), optionally one programme."""
    from dwi.errors import DwiError
    from dwi.store.warehouse import connect_read_only

    con = connect_read_only(warehouse)
    try:
        try:
            frame = con.sql("SELECT * FROM dwcp_scores").pl()
        except duckdb.CatalogException:
            raise DwiError(f"no dwcp_scores view in {warehouse}; run `dwi run` first") from None
    finally:
        con.close()
    known = sorted(frame["programme"].unique().to_list())
    if not known:
        raise DwiError(f"{warehouse} holds no programme assessments (no source of format dwcp_assessments loaded)")
    if programme is not None and programme not in known:
        raise DwiError(f"programme '{programme}' is not in {warehouse}; known: {', '.join(known)}")
    return frame if programme is None else frame.filter(pl.col("programme") == programme)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def _label(row: dict) -> str:
    from rich.markup import escape

    title = row["title"] if len(row["title"]) <= 70 else row["title"][:69] + "…"
    head = f"[bold]{escape(row['code'])}[/] {escape(title)}"
    style, flag = VERDICT_STYLE[row["verdict"]]
    if row["verdict"] in ("input", "missing"):
        if row["verdict"] == "missing":
            return f"{head}  [{style}]{flag}[/]"
        if row["grade_basis"] == "inferred":
            return f"{head}  grade {_fmt(row['reported_grade'])} [yellow]\\[inferred][/]"
        return f"{head}  grade {_fmt(row['reported_grade'])} ({row['grade_basis']})"
    grades = f"reported {_fmt(row['reported_grade'])} · computed {_fmt(row['computed_grade'])}"
    if row["grade_basis"] == "inferred":
        grades += " [yellow]\\[inferred][/]"
    return f"{head}  {grades}  [{style}]{flag}[/]"


def render(frame: pl.DataFrame) -> list:
    """Rich renderables: per programme a tree (reported and computed grades, flags, notes) and a summary."""
    from rich.markup import escape
    from rich.tree import Tree

    out = []
    for (programme,), rows in frame.sort("programme", "sort_key").group_by("programme", maintain_order=True):
        nodes: dict[str, Tree] = {}
        root = None
        for row in rows.iter_rows(named=True):  # display only: one line per node
            parent = row["programme"] if row["level"] == "priority" else row["parent_code"]
            label = _label(row)
            node = Tree(label, guide_style="dim") if root is None else nodes[parent].add(label)
            root = root or node
            nodes[row["programme"] if row["level"] == "programme" else row["code"]] = node
            if row["verdict"] not in ("input", "consistent") and row["note"]:
                node.add(f"[dim]{escape(row['note'])}[/]")
        out.append(root)

        def codes(expr: pl.Expr, rows: pl.DataFrame = rows) -> list[str]:
            return rows.filter(expr)["code"].to_list()

        parent = pl.col("level") != "programme"
        parts = [
            (n, codes(parent & (pl.col("verdict") == n))) for n in ("inconsistent", "not computable", "not reported")
        ]
        parts += [
            ("missing grades", codes(pl.col("verdict") == "missing")),
            ("inferred grades", codes(pl.col("grade_basis") == "inferred")),
        ]
        summary = "; ".join(f"{len(c)} {name}" + (f" ({', '.join(c)})" if c else "") for name, c in parts)
        out.append(f"[bold]{escape(programme)}[/]: {escape(summary)}")
    out.append(
        "[dim]Six-point scale (1 = not complete ... 6 = over accomplished). computed = mean of the "
        "children's grades (reported, else computed), rounded half up to the reported precision.[/]"
    )
    return out
