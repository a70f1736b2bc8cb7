"""Reconciliation: every figure the source reports that can be recomputed from other figures, recomputed
(the `reconciliation` view). Inconsistencies are findings, not errors: the run still succeeds.

Checks: regional sums against reported totals (registry `additive`), reported percentages against their
numerator and denominator (registry `numerator`/`denominator`) at the printed precision, reported values
against dwi's derived values of the same figure (GDP growth vintages), the numeric claims of the text
(dwi/reference/text_claims.yaml) and cross-table warnings (same sidecar, `cross_tables`).

Printed precision: a figure printed with d decimals stands for [value - h, value + h) with h = 0.5 * 10^-d
(29.9 -> [29.85, 29.95)); `tolerance` is h.

Every check concerns Kazakhstan's figures: only Kazakhstan's rows (country = 'KAZ') of the indicators the
checks name (`checked_codes`) are read, filtered in SQL (`observations`), so the memory used does not grow
with other countries' data (an all-countries ILOSTAT or WDI file), and no other country's row enters a
check (a regional sum, a share's parts, a revision, a cross-table sum).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import yaml

from dwi.config import REFERENCE_DIR
from dwi.derive.correlations import correlate
from dwi.derive.indicators import NATIONAL, registry
from dwi.reference import Reference

OK, BAD, NA = "consistent", "inconsistent", "not checkable"
CLOSE = 0.7  # |r| from which a correlation is "close"

SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String,
    "reported": pl.Float64,
    "recomputed": pl.Float64,
    "tolerance": pl.Float64,
    "verdict": pl.String,
    "detail": pl.String,
    "kind": pl.String,  # sum | share | revision | text claim | cross-table
    "severity": pl.String,  # finding (inconsistent) | warning (cross-table) | info
    "indicator_code": pl.String,
    "region_code": pl.String,
    "year": pl.Int32,
    "period": pl.String,
    "source_id": pl.String,
    "location": pl.String,
}


@cache
def claims(directory: Path = REFERENCE_DIR) -> dict:
    return yaml.safe_load((directory / "text_claims.yaml").read_text(encoding="utf-8"))


def half_unit(printed: pl.Expr) -> pl.Expr:
    """Half a unit of the last printed decimal: '29.9' -> 0.05, '7' -> 0.5."""
    decimals = (
        pl.when(printed.str.contains(r"\.")).then(printed.str.split(".").list.last().str.len_chars()).otherwise(0)
    )
    return 0.5 * pl.lit(10.0).pow(-decimals.cast(pl.Float64))


def interval_verdict(reported: pl.Expr, recomputed: pl.Expr, tol: pl.Expr) -> pl.Expr:
    return (
        pl.when(reported.is_null() | recomputed.is_null())
        .then(pl.lit(NA))
        .when((recomputed >= reported - tol - 1e-9) & (recomputed < reported + tol - 1e-9))
        .then(pl.lit(OK))
        .otherwise(pl.lit(BAD))
    )


def _fmt(expr: pl.Expr, digits: int = 4) -> pl.Expr:
    if digits:
        return expr.round(digits).cast(pl.String).fill_null("missing")
    whole = expr.round(0).cast(pl.Int64, strict=False).cast(pl.String)  # beyond Int64 (1e19): the float itself
    return pl.when(expr.abs() < 1e15).then(whole).otherwise(expr.cast(pl.String)).fill_null("missing")


def _figure_codes(claim: dict) -> list[str]:
    """The codes of a claim's figure references ({code, year, period, region}: numerator, denominator, value,
    a, b, ...), whatever its type."""
    return [v["code"] for v in claim.values() if isinstance(v, dict) and "code" in v]


def checked_codes(ref: Reference, doc: dict | None = None) -> list[str]:
    """Every indicator code whose observations a check reads: regional sums (additive, not partial),
    shares (the share, its numerator and denominator), revisions (`derived_variants`), the figures of the
    text claims, cross-table and component checks (text_claims.yaml). Each check filters the observations
    it is given by these codes first (or joins on them), so the rows of other codes never change a result."""
    doc = claims() if doc is None else doc
    ind = ref.indicators
    codes = set(ind.filter(pl.col("additive") & ~pl.col("partial"))["code"])
    spec = _share_spec(ref)
    codes |= {*spec["indicator_code"], *spec["numerator"], *spec["denominator"]}
    codes |= set(_variant_codes())
    codes |= {c for claim in doc["claims"] for c in _figure_codes(claim)}
    for s in doc.get("cross_tables", []):
        codes |= {s["reported"]["code"], *s["recomputed_sum"]}
    for s in doc.get("components", []):
        codes |= {s["total"], *s["parts"]}
    return sorted(codes)


def observations(con: duckdb.DuckDBPyConnection, ref: Reference, doc: dict | None = None) -> pl.DataFrame:
    """Kazakhstan's current sex-T observations of the indicators the checks use (`checked_codes`), filtered
    in SQL: bounded by Kazakhstan's data, whatever else the warehouse holds. Same columns as the former
    unfiltered read and, as before, no ORDER BY: the rows kept come in the same relative (scan) order,
    which decides which row `_figure` takes when several match and the order of `components`' parts."""
    return con.sql(
        """SELECT indicator_code, region_code, year, period, value, value_reported, source_id,
                  source_row, source_ref
           FROM observations
           WHERE sex = 'T' AND country = 'KAZ' AND indicator_code IN (SELECT unnest($codes::VARCHAR[]))""",
        params={"codes": checked_codes(ref, doc)},
    ).pl()


def regional_sums(obs: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """The reported national total of every additive indicator against the sum of its regional rows."""
    ind = ref.indicators
    additive = ind.filter(pl.col("additive") & ~pl.col("partial"))["code"].implode()
    key = ["source_id", "indicator_code", "year", "period"]
    rows = obs.filter(pl.col("indicator_code").is_in(additive))
    sums = (
        rows.filter(pl.col("region_code") != NATIONAL)
        .group_by(key)
        .agg(pl.col("value").sum().alias("recomputed"), pl.len().alias("n"))
    )
    total = rows.filter(pl.col("region_code") == NATIONAL).join(sums, on=key)
    return total.select(
        pl.concat_str(pl.lit("regional sum of "), pl.col("indicator_code"), pl.lit(" = reported total")).alias("check"),
        pl.col("value").alias("reported"),
        "recomputed",
        pl.lit(0.0).alias("tolerance"),
        pl.when(pl.col("value") == pl.col("recomputed")).then(pl.lit(OK)).otherwise(pl.lit(BAD)).alias("verdict"),
        pl.concat_str(
            pl.lit("sum of "),
            pl.col("n").cast(pl.String),
            pl.lit(" regional rows = "),
            _fmt(pl.col("recomputed"), 0),
            pl.lit("; reported total "),
            pl.col("value_reported"),
            pl.lit("; difference (reported - sum) "),
            _fmt(pl.col("value") - pl.col("recomputed"), 0),
        ).alias("detail"),
        pl.lit("sum").alias("kind"),
        "indicator_code",
        pl.col("region_code"),
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


def _share_spec(ref: Reference) -> pl.DataFrame:
    """The reported shares that can be recomputed: indicator_code, numerator, denominator."""
    return ref.indicators.filter(
        pl.col("numerator").is_not_null(),
        pl.col("denominator").is_not_null(),
        ~pl.col("derived"),
        ~pl.col("partial"),
    ).select(pl.col("code").alias("indicator_code"), "numerator", "denominator")


def _variant_codes() -> list[str]:
    """Reported figures that dwi also derives (`derived_variants`: GDP_GROWTH)."""
    return [v["code"] for v in registry().get("derived_variants", [])]


def shares(obs: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Every reported share against 100 * numerator / denominator (same region, year, period), at the
    printed precision. Not checkable when a part is missing."""
    spec = _share_spec(ref)
    cell = ["region_code", "year", "period"]
    parts = obs.select(*cell, "indicator_code", "value", "value_reported")
    frame = (
        obs.join(spec, on="indicator_code")
        .join(
            parts.rename({"indicator_code": "numerator", "value": "num", "value_reported": "num_p"}),
            on=[*cell, "numerator"],
            how="left",
        )
        .join(
            parts.rename({"indicator_code": "denominator", "value": "den", "value_reported": "den_p"}),
            on=[*cell, "denominator"],
            how="left",
        )
        .with_columns(
            pl.when(pl.col("den") != 0).then(100 * pl.col("num") / pl.col("den")).alias("recomputed"),
            half_unit(pl.col("value_reported")).alias("tolerance"),
        )
    )
    verdict = interval_verdict(pl.col("value"), pl.col("recomputed"), pl.col("tolerance"))
    return frame.select(
        pl.concat_str(
            pl.col("indicator_code"),
            pl.lit(" = 100 * "),
            pl.col("numerator"),
            pl.lit(" / "),
            pl.col("denominator"),
        ).alias("check"),
        pl.col("value").alias("reported"),
        "recomputed",
        "tolerance",
        verdict.alias("verdict"),
        pl.concat_str(
            pl.lit("100 * "),
            pl.col("num_p").fill_null("missing"),
            pl.lit(" / "),
            pl.col("den_p").fill_null("missing"),
            pl.lit(" = "),
            _fmt(pl.col("recomputed")),
            pl.lit("; printed "),
            pl.col("value_reported"),
            pl.lit(" stands for ["),
            _fmt(pl.col("value") - pl.col("tolerance")),
            pl.lit(", "),
            _fmt(pl.col("value") + pl.col("tolerance")),
            pl.lit(")"),
            pl.when(pl.col("num").is_null()).then(pl.lit("; numerator missing in the sources")).otherwise(pl.lit("")),
            pl.when(pl.col("den").is_null()).then(pl.lit("; denominator missing in the sources")).otherwise(pl.lit("")),
        ).alias("detail"),
        pl.lit("share").alias("kind"),
        "indicator_code",
        "region_code",
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


def revisions(con: duckdb.DuckDBPyConnection, obs: pl.DataFrame) -> pl.DataFrame:
    """A reported figure against dwi's derivation of the same figure from other data (another vintage)."""
    codes = _variant_codes()
    derived = con.sql(
        """SELECT indicator_code, region_code, year, period, value AS recomputed, method, inputs, note
           FROM _indicator_values
           WHERE derived AND base_code IS NULL AND indicator_code IN (SELECT unnest($codes::VARCHAR[]))""",
        params={"codes": codes},
    ).pl()
    frame = (
        obs.filter(pl.col("indicator_code").is_in(codes))
        .join(derived, on=["indicator_code", "region_code", "year", "period"], how="left")
        .with_columns(half_unit(pl.col("value_reported")).alias("tolerance"))
    )
    return frame.select(
        pl.concat_str(pl.lit("reported "), pl.col("indicator_code"), pl.lit(" = derived from levels")).alias("check"),
        pl.col("value").alias("reported"),
        "recomputed",
        "tolerance",
        interval_verdict(pl.col("value"), pl.col("recomputed"), pl.col("tolerance")).alias("verdict"),
        pl.concat_str(
            pl.lit("reported "),
            pl.col("value_reported"),
            pl.lit(" ("),
            pl.col("source_id"),
            pl.lit("); derived "),
            _fmt(pl.col("recomputed"), 3),
            pl.lit(" = "),
            pl.col("method").fill_null(""),
            pl.lit(" from "),
            pl.col("inputs").fill_null("no input in the sources (no level for this year or the year before)"),
            pl.when(pl.col("note").is_not_null()).then("; " + pl.col("note")).otherwise(pl.lit("")),
            pl.lit("; a difference is a revision between vintages, both are kept"),
        ).alias("detail"),
        pl.lit("revision").alias("kind"),
        "indicator_code",
        "region_code",
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


def _figure(obs: pl.DataFrame, ref: dict) -> dict | None:
    rows = obs.filter(
        pl.col("indicator_code") == ref["code"],
        pl.col("year") == ref["year"],
        pl.col("period") == ref.get("period", "Y"),
        pl.col("region_code") == ref.get("region", NATIONAL),
    )
    return rows.row(0, named=True) if rows.height else None


def _half(printed: str) -> float:
    return 0.5 * 10.0 ** -(len(printed.split(".")[1]) if "." in printed else 0)


def _row(
    claim: dict,
    reported,
    recomputed,
    tolerance,
    verdict,
    detail,
    fig: dict | None = None,
    kind: str = "text claim",
) -> dict:
    fig = fig or {}
    return {
        "check": claim["check"],
        "reported": reported,
        "recomputed": recomputed,
        "tolerance": tolerance,
        "verdict": verdict,
        "detail": detail,
        "kind": kind,
        "indicator_code": fig.get("indicator_code"),
        "region_code": fig.get("region_code"),
        "year": fig.get("year"),
        "period": fig.get("period"),
        "source_id": fig.get("source_id"),
        "location": f'{claim["location"]}: "{claim["quote"]}"' if claim.get("quote") else claim["location"],
    }


def text_claim(con: duckdb.DuckDBPyConnection, obs: pl.DataFrame, claim: dict) -> dict:
    kind = claim["type"]
    if kind in ("ratio", "share", "below"):
        num, den = _figure(obs, claim["numerator"]), _figure(obs, claim["denominator"])
        if num is None or den is None or den["value"] == 0:
            return _row(claim, None, None, None, NA, "a figure of the claim is missing in the sources", num)
        ratio = num["value"] / den["value"]
        parts = f"{num['value_reported']} / {den['value_reported']}"
        if kind == "below":
            share = 100 * ratio
            ok = share < claim["threshold"]
            return _row(
                claim,
                float(claim["threshold"]),
                share,
                None,
                OK if ok else BAD,
                f"100 * {parts} = {share:.3f}%, which is {'below' if ok else 'not below'} {claim['threshold']}%",
                num,
            )
        value = ratio if kind == "ratio" else 100 * ratio
        claimed, h = float(claim["claimed"]), _half(claim["claimed"])
        ok = claimed - h - 1e-9 <= value < claimed + h - 1e-9
        what = f"{parts} = {value:.3f}" if kind == "ratio" else f"100 * {parts} = {value:.3f}%"
        extra = (
            f" (an increase of {100 * (ratio - 1):.1f}%; read as 'increased by' seven times, x8, it fits no better)"
            if kind == "ratio"
            else ""
        )
        return _row(
            claim,
            claimed,
            value,
            h,
            OK if ok else BAD,
            f"{what}{extra}; printed {claim['claimed']} stands for [{claimed - h:g}, {claimed + h:g})",
            num,
        )
    if kind == "one_in_k":
        fig = _figure(obs, claim["value"])
        if fig is None:
            return _row(claim, None, None, None, NA, "the share is missing in the sources")
        k, share = claim["k"], fig["value"]
        low, high = 100 / (k + 0.5), 100 / (k - 0.5)
        ok = low < share <= high
        return _row(
            claim,
            float(k),
            100 / share,
            0.5,
            OK if ok else BAD,
            f"'every {k}th' means about 100/{k} = {100 / k:.2f}% (one in [{k - 0.5:g}, {k + 0.5:g}) is a "
            f"share in ({low:.2f}%, {high:.2f}%]); {fig['value_reported']}% is one in {100 / share:.2f}, "
            f"i.e. about every {round(100 / share)}th",
            fig,
        )
    if kind == "conventions_count":
        as_of = claim["as_of"] if isinstance(claim["as_of"], dt.date) else dt.date.fromisoformat(claim["as_of"])
        count, sources = con.sql(
            """SELECT count(*), min(source_id) FROM conventions
                                    WHERE ratification_date <= $d""",
            params={"d": as_of},
        ).fetchall()[0]
        claimed = float(claim["claimed"])
        return _row(
            claim,
            claimed,
            float(count),
            0.0,
            OK if count == claimed else BAD,
            f"the annex lists {count} conventions ratified by {as_of}",
            {"source_id": sources},
        )
    if kind == "convention_date":
        found = con.sql(
            "SELECT ratification_date, note, source_id FROM conventions WHERE convention_no = $n",
            params={"n": claim["convention_no"]},
        ).fetchall()
        if not found:
            return _row(claim, None, None, None, NA, f"C{claim['convention_no']} is not in the annex")
        annex, note, source = found[0]
        text = claim["text_date"]
        same = (
            (text == annex) if claim.get("precision") == "day" else (text.year, text.month) == (annex.year, annex.month)
        )
        gap = (annex - text).days
        shown = text.isoformat() if claim.get("precision") == "day" else text.strftime("%Y-%m")
        return _row(
            claim,
            None,
            None,
            None,
            OK if same else BAD,
            f"text {shown}, annex {annex.isoformat()} ({gap:+d} days); annex note: {note or '-'}. "
            "A ratification law's date and the date in the annex can differ legitimately; the "
            "difference is shown, not resolved",
            {"source_id": source},
        )
    if kind == "correlation":
        years = tuple(claim["years"]) if claim.get("years") else None
        c = correlate(con, claim["x"], claim["y"], "national", years=years)
        r, p, n = c["pearson_r"], c["pearson_p"], c["n"]
        if r is None:
            verdict, why = NA, f"n={n}: no coefficient can be computed"
        elif r <= -CLOSE and p < 0.05:
            verdict, why = OK, f"r={r:.3f} (close, negative) and p={p:.3f} < 0.05"
        elif r <= -CLOSE:
            verdict, why = (
                NA,
                (
                    f"r={r:.3f} has the claimed sign and size, but with n={n} p={p:.3f} >= 0.05: "
                    "indistinguishable from no correlation"
                ),
            )
        else:
            verdict, why = (
                BAD,
                (
                    f"r={r:.3f} ({'positive' if r > 0 else 'negative but not close'}), "
                    f"p={p:.3f}, n={n}: the data do not show a close negative correlation"
                ),
            )
        return _row(
            claim,
            None,
            r,
            None,
            verdict,
            f"the review printed no coefficient; {why}; Spearman rho="
            f"{'n/a' if c['spearman_rho'] is None else format(c['spearman_rho'], '.3f')}; "
            f"years used: {c['observations_used'] or 'none'}; flags: {c['flags'] or 'none'}",
            {"indicator_code": claim["x"], "region_code": NATIONAL},
        )
    if kind == "same_figure":
        a, b = _figure(obs, claim["a"]), _figure(obs, claim["b"])
        if a is None or b is None:
            return _row(claim, None, None, None, NA, "a figure is missing in the sources", a)
        return _row(
            claim,
            a["value"],
            b["value"],
            0.0,
            NA,
            f"{a['indicator_code']} = {a['value_reported']} ({a['source_id']}, counted as "
            f"standards) and {b['indicator_code']} = {b['value_reported']} ({b['source_id']}, counted as "
            "enterprises) are the same number with different units: either every enterprise implemented "
            "exactly one standard or one of the two labels is wrong; cannot be decided from the source",
            a,
            kind="cross-table",
        )
    raise ValueError(f"text_claims.yaml: unknown claim type '{kind}'")


def cross_tables(obs: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """One warning per region (and the total) where two tables count the same thing differently."""
    cell = ["region_code"]
    reported = obs.filter(pl.col("indicator_code") == spec["reported"]["code"])
    parts = obs.filter(pl.col("indicator_code").is_in(spec["recomputed_sum"]))
    summed = parts.group_by(cell).agg(
        pl.col("value").sum().alias("recomputed"),
        pl.len().alias("n"),
        pl.col("source_id").first().alias("other_source"),
        pl.col("year").first().alias("other_year"),
        pl.col("period").first().alias("other_period"),
    )
    summed = summed.filter(pl.col("n") == len(spec["recomputed_sum"]))
    frame = reported.join(summed, on=cell, how="full", coalesce=True).with_columns(
        (pl.col("value") - pl.col("recomputed")).alias("diff")
    )
    label = " + ".join(spec["recomputed_sum"])
    verdict = (
        pl.when(pl.col("value").is_null() | pl.col("recomputed").is_null())
        .then(pl.lit(NA))
        .when(pl.col("diff") == 0)
        .then(pl.lit(OK))
        .otherwise(pl.lit(BAD))
    )
    return frame.select(
        pl.lit(spec["check"]).alias("check"),
        pl.col("value").alias("reported"),
        "recomputed",
        pl.lit(0.0).alias("tolerance"),
        verdict.alias("verdict"),
        pl.concat_str(
            pl.lit(spec["reported"]["code"] + " "),
            _fmt(pl.col("value"), 0),
            pl.lit(" ("),
            pl.col("source_id").fill_null("-"),
            pl.lit(", "),
            pl.col("year").cast(pl.String).fill_null("-"),
            pl.lit(" "),
            pl.col("period").fill_null("-"),
            pl.lit(") vs " + label + " "),
            _fmt(pl.col("recomputed"), 0),
            pl.lit(" ("),
            pl.col("other_source").fill_null("-"),
            pl.lit(", "),
            pl.col("other_year").cast(pl.String).fill_null("-"),
            pl.lit(" "),
            pl.col("other_period").fill_null("-"),
            pl.lit("): difference "),
            _fmt(pl.col("diff"), 0),
            pl.when(pl.col("diff") < 0)
            .then(pl.lit(" (the sum of the parts exceeds the reported whole, which the dates alone hardly explain)"))
            .otherwise(pl.lit("")),
            pl.lit(". " + spec["note"]),
        ).alias("detail"),
        pl.lit("cross-table").alias("kind"),
        pl.col("indicator_code").fill_null(spec["reported"]["code"]),
        "region_code",
        "year",
        "period",
        pl.col("source_id").fill_null(pl.col("other_source")),
        pl.lit(spec["location"]).alias("location"),
    )


def components(obs: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """A reported total against the sum of its 'including' columns in the same row."""
    cell = ["source_id", "region_code", "year", "period"]
    total = obs.filter(pl.col("indicator_code") == spec["total"])
    parts = (
        obs.filter(pl.col("indicator_code").is_in(spec["parts"]))
        .group_by(cell)
        .agg(
            pl.col("value").sum().alias("recomputed"),
            pl.len().alias("n"),
            pl.col("value_reported").str.join(" + ").alias("shown"),
        )
    )
    frame = total.join(parts, on=cell, how="left").with_columns(
        pl.when(pl.col("n") == len(spec["parts"])).then(pl.col("recomputed")).alias("recomputed")
    )
    verdict = (
        pl.when(pl.col("recomputed").is_null())
        .then(pl.lit(NA))
        .when(pl.col("recomputed") == pl.col("value"))
        .then(pl.lit(OK))
        .when(pl.col("recomputed") > pl.col("value"))
        .then(pl.lit(BAD))
        .otherwise(pl.lit(NA))
    )
    return frame.select(
        pl.lit(spec["check"]).alias("check"),
        pl.col("value").alias("reported"),
        "recomputed",
        pl.lit(0.0).alias("tolerance"),
        verdict.alias("verdict"),
        pl.concat_str(
            pl.lit(" + ".join(spec["parts"]) + " = "),
            pl.col("shown").fill_null("missing"),
            pl.lit(" = "),
            _fmt(pl.col("recomputed"), 0),
            pl.lit("; reported total "),
            pl.col("value_reported"),
            pl.when(pl.col("recomputed") < pl.col("value"))
            .then(
                pl.lit("; the parts fall short by ")
                + _fmt(pl.col("value") - pl.col("recomputed"), 0)
                + pl.lit(": the 'including' columns need not be exhaustive")
            )
            .otherwise(pl.lit("")),
        ).alias("detail"),
        pl.lit("sum").alias("kind"),
        "indicator_code",
        "region_code",
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in SCHEMA.items() if c not in frame.columns]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def compute(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    doc = claims()
    obs = observations(con, ref, doc)  # Kazakhstan's rows of the checked indicators only
    text = pl.DataFrame(
        [text_claim(con, obs, c) for c in doc["claims"]],
        schema={k: v for k, v in SCHEMA.items() if k != "severity"},
    )
    frames = [
        regional_sums(obs, ref),
        shares(obs, ref),
        revisions(con, obs),
        text,
        *[cross_tables(obs, spec) for spec in doc.get("cross_tables", [])],
        *[components(obs, spec) for spec in doc.get("components", [])],
    ]
    out = pl.concat([_conform(f) for f in frames])
    return out.with_columns(
        pl.when(pl.col("kind") == "cross-table")
        .then(pl.lit("warning"))
        .when(pl.col("verdict") == BAD)
        .then(pl.lit("finding"))
        .otherwise(pl.lit("info"))
        .alias("severity")
    )
