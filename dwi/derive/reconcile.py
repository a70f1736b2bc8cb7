"""Reconciliation: every figure the sources report that can be recomputed or tested against other figures
(the `reconciliation` view). Findings, not errors: the run still succeeds.

Every row names the RELATION it tests (column `relation`), the TOLERANCE it allows and WHY the verdict
follows (column `detail`). The verdict follows from the relation only. Relations (`RELATIONS`):

- equal within printed precision: shares against their numerator and denominator (registry
  `numerator`/`denominator`), regional sums against reported totals (registry `additive`; counts are exact,
  tolerance 0), text shares and counts (dwi/reference/text_claims.yaml). A figure printed with d decimals
  stands for [value - h, value + h) with h = 0.5 * 10^-d; when both sides are printed, the tolerance is the
  half unit of the LESS precise side. A float written out in full (a World Bank cell '9.69999999999999')
  is read at the fewest decimals (up to 6) that reproduce it, not at 14.
- part <= whole: a part counted by one table against a whole counted by another, or 'including' columns
  against their total (text_claims.yaml `part_whole`, `components`).
- order in time: a ratification law precedes (or equals) the ILO's registration date in the annex, at
  the precision of the text's date.
- revision: a reported figure against another vintage of it (dwi's derivation from later levels):
  'revised' when they differ beyond the tolerance, never 'inconsistent'.
- verbal quantifiers, each with the interval documented in text_claims.yaml: 'every k-th', 'less than',
  'N times', 'exceeded' (and 'rose', 'higher'), 'rarely', 'all', 'almost all', a grade label on the
  six-point scale, an extremum over time ('the largest fall', 'the smallest number').
- statistical claim: a claimed correlation judged with the 95 % confidence interval of r, symmetrically:
  consistent (supported) when the interval excludes zero in the claimed direction, inconsistent
  (contradicted) when it excludes zero in the other direction, inconclusive otherwise.
- across sources: one indicator from several sources (the review's 15+ rate, the bureau's working-age
  rate, ILOSTAT): compared, never judged equal or unequal when their definitions differ.

Verdicts (`VERDICTS`): consistent, inconsistent, revised, inconclusive, not checkable.

Every check concerns Kazakhstan's figures: only Kazakhstan's rows (country = 'KAZ') of the indicators the
checks name (`checked_codes`) are read, filtered in SQL (`observations`), so the memory used does not grow
with other countries' data, and no other country's row enters a check. Values a source implies but does
not print, and corrected values (obs_status `implied`, `corrected`), are tested like printed ones; the
detail says so.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from dwi.config import REFERENCE_DIR, read_yaml
from dwi.derive.correlations import correlate
from dwi.derive.indicators import NATIONAL, registry
from dwi.reference import Reference

CONSISTENT, INCONSISTENT, REVISED, INCONCLUSIVE, NOT_CHECKABLE = (
    "consistent",
    "inconsistent",
    "revised",
    "inconclusive",
    "not checkable",
)
# The one verdict vocabulary (docs/methods/reconciliation.md repeats it).
VERDICTS = {
    CONSISTENT: "the relation holds within its tolerance",
    INCONSISTENT: "the relation fails beyond its tolerance: a real contradiction in the sources",
    REVISED: "two vintages of one figure differ beyond the printed precision: a revision, both are kept",
    INCONCLUSIVE: (
        "the data neither confirm nor contradict the relation (a confidence interval that includes zero, "
        "printed intervals that overlap, or a year the source does not print that could overturn it)"
    ),
    NOT_CHECKABLE: "an input is missing, or the figures cannot be compared (different definitions or units)",
}
EQUAL = "equal within printed precision"
PART = "part <= whole"
ORDER = "order in time"
REVISION = "revision"
QUANTIFIER = "verbal quantifier"
STATISTICAL = "statistical claim (95% confidence interval)"
SAME = "same figure, different units"
SOURCES = "one indicator, several sources"
RELATIONS = {
    EQUAL: "a reported figure equals its recomputation within half a unit of the less precise printed side",
    PART: "a part does not exceed its whole (counts: tolerance 0)",
    ORDER: "a date precedes or equals another, at the precision of the less precise date",
    REVISION: "a preliminary or earlier figure against a later vintage of it",
    QUANTIFIER: "a verbal quantifier against the interval documented for it in text_claims.yaml",
    STATISTICAL: "the claimed sign of a correlation against the 95% confidence interval of Pearson's r",
    SAME: "one number that two passages count in different units",
    SOURCES: "the same indicator from several sources, kept apart by source and definition",
}
EPS = 1e-9  # relative floating-point slack in every comparison

SCHEMA: dict[str, pl.DataType] = {
    "check": pl.String,
    "relation": pl.String,
    "reported": pl.Float64,
    "recomputed": pl.Float64,
    "tolerance": pl.Float64,
    "verdict": pl.String,
    "detail": pl.String,
    "kind": pl.String,  # sum | share | revision | text claim | cross-table | grade label | sources
    "severity": pl.String,  # finding (inconsistent) | warning (revised, inconclusive) | info
    "indicator_code": pl.String,
    "region_code": pl.String,
    "year": pl.Int32,
    "period": pl.String,
    "source_id": pl.String,
    "location": pl.String,
}
_TEXT_SCHEMA = {k: v for k, v in SCHEMA.items() if k != "severity"}


@cache
def claims(directory: Path = REFERENCE_DIR) -> dict:
    return read_yaml(directory / "text_claims.yaml")


# --- printed precision ----------------------------------------------------------------------------------

MACHINE_DECIMALS = 10  # a figure written with this many decimals (or an exponent) is a machine float
MAX_PRINTED = 6  # ... read at the fewest decimals up to this that reproduce it


def printed_decimals(printed: pl.Expr, over: list[str] | None = None) -> pl.Expr:
    """The decimals a figure was printed with: '29.9' -> 1, '7' -> 0. A machine float written out in full
    ('9.69999999999999', '1.2e-05') counts with the fewest decimals (at most 6) that reproduce it to a
    relative 1e-9; a float with no such short form keeps its own decimals. With `over` (e.g. source and
    indicator), a machine float counts with the most decimals any machine float of its series needs: one
    process wrote the column, so '4.99999999999999' beside '9.69999999999999' is 5.0, not 5."""
    text = printed.str.strip_chars()
    raw = (
        pl.when(text.str.contains(r"[eE]"))
        .then(pl.lit(15))
        .when(text.str.contains(r"\."))
        .then(text.str.split(".").list.last().str.len_chars())
        .otherwise(0)
        .cast(pl.Int32)
    )
    value = text.cast(pl.Float64, strict=False)
    slack = pl.max_horizontal(value.abs(), pl.lit(1.0)) * EPS
    short = pl.min_horizontal(
        [
            pl.when((value.round(k) - value).abs() <= slack).then(pl.lit(k, dtype=pl.Int32))
            for k in range(MAX_PRINTED + 1)
        ]
    )
    machine = raw >= MACHINE_DECIMALS
    effective = pl.coalesce(short, raw)
    if over:
        effective = pl.when(machine).then(effective).max().over(over)
    return pl.when(machine).then(effective).otherwise(raw)


def half_unit(printed: pl.Expr, over: list[str] | None = None) -> pl.Expr:
    """Half a unit of the last printed decimal: '29.9' -> 0.05, '7' -> 0.5, '9.69999999999999' -> 0.05."""
    return 0.5 * pl.lit(10.0).pow(-printed_decimals(printed, over).cast(pl.Float64))


def _half(printed: str) -> float:
    return pl.select(half_unit(pl.lit(str(printed)))).item()


def interval_verdict(reported: pl.Expr, recomputed: pl.Expr, tol: pl.Expr, differ: str = INCONSISTENT) -> pl.Expr:
    """Equality within the printed interval [reported - tol, reported + tol) (a relative 1e-9 of slack);
    `differ` is the verdict beyond it (inconsistent, or revised for vintages)."""
    slack = pl.max_horizontal(reported.abs(), pl.lit(1.0)) * EPS
    return (
        pl.when(reported.is_null() | recomputed.is_null())
        .then(pl.lit(NOT_CHECKABLE))
        .when((recomputed >= reported - tol - slack) & (recomputed < reported + tol + slack))
        .then(pl.lit(CONSISTENT))
        .otherwise(pl.lit(differ))
    )


def _fmt(expr: pl.Expr, digits: int = 4) -> pl.Expr:
    if digits:
        return expr.round(digits).cast(pl.String).fill_null("missing")
    whole = expr.round(0).cast(pl.Int64, strict=False).cast(pl.String)  # beyond Int64 (1e19): the float itself
    return pl.when(expr.abs() < 1e15).then(whole).otherwise(expr.cast(pl.String)).fill_null("missing")


def _g(x: float | None, digits: int = 4) -> str:
    return "missing" if x is None else f"{x:.{digits}g}"


# --- which observations ---------------------------------------------------------------------------------


def _figure_codes(claim: dict) -> list[str]:
    """The codes of a claim's figure references ({code, year, period, region}: numerator, denominator, value,
    a, b, ...), whatever its type."""
    refs = [v["code"] for v in claim.values() if isinstance(v, dict) and "code" in v]
    return refs + ([claim["code"]] if isinstance(claim.get("code"), str) else [])


def checked_codes(ref: Reference, doc: dict | None = None) -> list[str]:
    """Every indicator code whose observations a check reads: regional sums (additive, not partial),
    shares (the share, its numerator and denominator), revisions (`derived_variants` and their inputs), the
    figures of the text claims, part-whole, component and across-source checks (text_claims.yaml). Each
    check filters the observations it is given by these codes first (or joins on them), so the rows of
    other codes never change a result."""
    doc = claims() if doc is None else doc
    ind = ref.indicators
    codes = set(ind.filter(pl.col("additive") & ~pl.col("partial"))["code"])
    spec = _share_spec(ref)
    codes |= {*spec["indicator_code"], *spec["numerator"], *spec["denominator"]}
    codes |= {c for v in registry().get("derived_variants", []) for c in (v["code"], v.get("input")) if c}
    codes |= {c for claim in doc["claims"] for c in _figure_codes(claim)}
    for s in doc.get("part_whole", []):
        codes |= {s["whole"], *s["parts"]}
    for s in doc.get("components", []):
        codes |= {s["total"], *s["parts"]}
    for s in doc.get("across_sources", []):
        codes |= set(s["codes"])
    return sorted(codes)


def observations(con: duckdb.DuckDBPyConnection, ref: Reference, doc: dict | None = None) -> pl.DataFrame:
    """Kazakhstan's current sex-T observations of the indicators the checks use (`checked_codes`), filtered
    in SQL: bounded by Kazakhstan's data, whatever else the warehouse holds. No ORDER BY: the rows kept come
    in scan order, which decides which row `_figure` takes when several match."""
    return con.sql(
        """SELECT indicator_code, region_code, year, period, value, value_reported, source_id,
                  source_row, source_ref, obs_status
           FROM observations
           WHERE sex = 'T' AND country = 'KAZ' AND indicator_code IN (SELECT unnest($codes::VARCHAR[]))""",
        params={"codes": checked_codes(ref, doc)},
    ).pl()


# --- equality: sums and shares ----------------------------------------------------------------------------


def regional_sums(obs: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """The reported national total of every additive indicator against the sum of its regional rows
    (counts: exact, tolerance 0)."""
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
        pl.lit(EQUAL).alias("relation"),
        pl.col("value").alias("reported"),
        "recomputed",
        pl.lit(0.0).alias("tolerance"),
        interval_verdict(pl.col("value"), pl.col("recomputed"), pl.lit(0.0)).alias("verdict"),
        pl.concat_str(
            pl.lit("sum of "),
            pl.col("n").cast(pl.String),
            pl.lit(" regional rows = "),
            _fmt(pl.col("recomputed"), 0),
            pl.lit("; reported total "),
            pl.col("value_reported"),
            pl.lit("; difference (reported - sum) "),
            _fmt(pl.col("value") - pl.col("recomputed"), 0),
            pl.lit("; counts are exact: tolerance 0"),
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


def shares(obs: pl.DataFrame, ref: Reference) -> pl.DataFrame:
    """Every reported share against 100 * numerator / denominator (same region, year, period, source where
    it has both), within the share's printed precision (the counts are printed in full: the share is the
    less precise side). Not checkable when a part is missing."""
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
        pl.lit(EQUAL).alias("relation"),
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
            _status_note(),
        ).alias("detail"),
        pl.lit("share").alias("kind"),
        "indicator_code",
        "region_code",
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


def _status_note(col: str = "obs_status") -> pl.Expr:
    """'; the value is implied by the text, not printed' for the statuses that say a value was not printed
    as such."""
    return (
        pl.when(pl.col(col) == "implied")
        .then(pl.lit("; the reported value is implied by the text, not printed (obs_status implied)"))
        .when(pl.col(col) == "corrected")
        .then(pl.lit("; the reported value's key was corrected from a misprint (obs_status corrected)"))
        .otherwise(pl.lit(""))
    )


# --- revisions ------------------------------------------------------------------------------------------


def revisions(con: duckdb.DuckDBPyConnection, obs: pl.DataFrame) -> pl.DataFrame:
    """A reported figure against dwi's derivation of the same figure from levels (another vintage). The
    tolerance is the half unit of the less precise side: the reported figure's printed precision, or the
    derived growth's precision propagated from its two levels' printed precision. A difference beyond it
    is a revision ('revised'), never an inconsistency: both vintages are kept."""
    variants = [v for v in registry().get("derived_variants", []) if v.get("formula") == "growth"]
    frames = []
    for v in variants:
        derived = con.sql(
            """SELECT indicator_code, region_code, year, period, value AS recomputed, method, inputs, note
               FROM _indicator_values
               WHERE derived AND base_code IS NULL AND indicator_code = $code""",
            params={"code": v["code"]},
        ).pl()
        levels = (
            obs.filter(
                pl.col("indicator_code") == v["input"], pl.col("region_code") == NATIONAL, pl.col("period") == "Y"
            )
            .unique(["year"], keep="first", maintain_order=True)
            .select("year", pl.col("value").alias("level"), half_unit(pl.col("value_reported")).alias("level_h"))
        )
        prev = levels.select(
            (pl.col("year") + 1).alias("year"), pl.col("level").alias("prev"), pl.col("level_h").alias("prev_h")
        )
        frame = (
            obs.filter(pl.col("indicator_code") == v["code"])
            .join(derived, on=["indicator_code", "region_code", "year", "period"], how="left")
            .join(levels, on="year", how="left")
            .join(prev, on="year", how="left")
            .with_columns(
                half_unit(pl.col("value_reported"), over=["source_id", "indicator_code"]).alias("h_reported"),
                # d(100 (L/P - 1)) <= 100 (h_L / P + L h_P / P^2)
                (
                    100
                    * (pl.col("level_h") / pl.col("prev") + pl.col("level") * pl.col("prev_h") / pl.col("prev") ** 2)
                ).alias("h_derived"),
            )
            .with_columns(pl.max_horizontal("h_reported", "h_derived").alias("tolerance"))
        )
        frames.append(frame)
    if not frames:
        return pl.DataFrame(schema=_TEXT_SCHEMA)
    frame = pl.concat(frames, how="diagonal_relaxed")
    preliminary = pl.col("obs_status").fill_null("") == "P"
    return frame.select(
        pl.concat_str(pl.lit("reported "), pl.col("indicator_code"), pl.lit(" vs derived from levels")).alias("check"),
        pl.lit(REVISION).alias("relation"),
        pl.col("value").alias("reported"),
        "recomputed",
        "tolerance",
        interval_verdict(pl.col("value"), pl.col("recomputed"), pl.col("tolerance"), differ=REVISED).alias("verdict"),
        pl.concat_str(
            pl.lit("reported "),
            pl.col("value_reported"),
            pl.lit(" ("),
            pl.col("source_id"),
            pl.when(preliminary).then(pl.lit(", preliminary")).otherwise(pl.lit("")),
            pl.lit("); derived "),
            _fmt(pl.col("recomputed"), 3),
            pl.lit(" = "),
            pl.col("method").fill_null(""),
            pl.lit(" from "),
            pl.col("inputs").fill_null("no input in the sources (no level for this year or the year before)"),
            pl.when(pl.col("note").is_not_null()).then("; " + pl.col("note")).otherwise(pl.lit("")),
            pl.lit("; tolerance = the less precise side: reported ±"),
            _fmt(pl.col("h_reported"), 6),
            pl.lit(", derived ±"),
            pl.col("h_derived").round_sig_figs(2).cast(pl.String).fill_null("missing"),
            pl.lit(" (from the levels' printed precision)"),
            pl.lit("; a difference beyond it is a revision between vintages, both are kept"),
        ).alias("detail"),
        pl.lit("revision").alias("kind"),
        "indicator_code",
        "region_code",
        "year",
        "period",
        "source_id",
        pl.col("source_ref").alias("location"),
    )


# --- claims of the text -----------------------------------------------------------------------------------


def _figure(obs: pl.DataFrame, ref: dict) -> dict | None:
    rows = obs.filter(
        pl.col("indicator_code") == ref["code"],
        pl.col("year") == ref["year"],
        pl.col("period") == ref.get("period", "Y"),
        pl.col("region_code") == ref.get("region", NATIONAL),
    )
    return rows.row(0, named=True) if rows.height else None


def _row(
    claim: dict,
    relation: str,
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
        "relation": relation,
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


def _q(claim: dict) -> str:
    return f"{QUANTIFIER} '{claim['quantifier']}'" if claim.get("quantifier") else QUANTIFIER


def _status(fig: dict) -> str:
    s = fig.get("obs_status")
    return {"implied": " (implied by the text, not printed)", "corrected": " (year corrected from a misprint)"}.get(
        s or "", ""
    )


def _ratio(claim: dict, obs: pl.DataFrame) -> dict:
    """'N times': numerator / denominator in [N - 0.5, N + 0.5); the reading 'increased by N times'
    (ratio N + 1) is tried too; consistent if either fits."""
    num, den = _figure(obs, claim["numerator"]), _figure(obs, claim["denominator"])
    if num is None or den is None or den["value"] == 0:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "a figure of the claim is missing", num)
    ratio = num["value"] / den["value"]
    n, h = float(claim["claimed"]), _half(claim["claimed"])
    fits = [m for m in (n, n + 1) if m - h - EPS <= ratio < m + h - EPS]
    return _row(
        claim,
        _q(claim),
        n,
        ratio,
        h,
        CONSISTENT if fits else INCONSISTENT,
        f"{num['value_reported']} / {den['value_reported']} = {ratio:.3f}; '{claim['claimed']} times' means a ratio "
        f"in [{n - h:g}, {n + h:g}) ('increased by {claim['claimed']} times': [{n + 1 - h:g}, {n + 1 + h:g})); "
        + (f"fits x{fits[0]:g}" if fits else f"fits neither: the increase is {100 * (ratio - 1):.1f}%"),
        num,
    )


def _share(claim: dict, obs: pl.DataFrame) -> dict:
    """A printed percentage against 100 * numerator / denominator."""
    num, den = _figure(obs, claim["numerator"]), _figure(obs, claim["denominator"])
    if num is None or den is None or den["value"] == 0:
        return _row(claim, EQUAL, None, None, None, NOT_CHECKABLE, "a figure of the claim is missing", num)
    value = 100 * num["value"] / den["value"]
    claimed, h = float(claim["claimed"]), _half(claim["claimed"])
    ok = claimed - h - EPS <= value < claimed + h - EPS
    return _row(
        claim,
        EQUAL,
        claimed,
        value,
        h,
        CONSISTENT if ok else INCONSISTENT,
        f"100 * {num['value_reported']} / {den['value_reported']} = {value:.3f}%; printed {claim['claimed']} stands "
        f"for [{claimed - h:g}, {claimed + h:g})",
        num,
    )


def _below(claim: dict, obs: pl.DataFrame) -> dict:
    """'less than a quarter': 100 * numerator / denominator < threshold."""
    num, den = _figure(obs, claim["numerator"]), _figure(obs, claim["denominator"])
    if num is None or den is None or den["value"] == 0:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "a figure of the claim is missing", num)
    share, t = 100 * num["value"] / den["value"], float(claim["threshold"])
    ok = share < t
    return _row(
        claim,
        _q(claim),
        t,
        share,
        0.0,
        CONSISTENT if ok else INCONSISTENT,
        f"'{claim['quantifier']}' means a share below {t:g}%; "
        f"100 * {num['value_reported']} / {den['value_reported']} = "
        f"{share:.3f}%, which is {'below' if ok else 'not below'} {t:g}%",
        num,
    )


def _one_in_k(claim: dict, obs: pl.DataFrame) -> dict:
    """'every k-th person': the share is nearer 100/k than 100/(k-1) or 100/(k+1) on the share scale, i.e.
    in ((100/(k+1) + 100/k) / 2, (100/k + 100/(k-1)) / 2]."""
    fig = _figure(obs, claim["value"])
    if fig is None:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "the share is missing in the sources")
    k, share = claim["k"], fig["value"]
    low, high = (100 / (k + 1) + 100 / k) / 2, (100 / k + 100 / (k - 1)) / 2
    ok = low < share <= high
    return _row(
        claim,
        _q(claim),
        100 / k,
        share,
        None,
        CONSISTENT if ok else INCONSISTENT,
        f"'every {k}th' = 1/{k} = {100 / k:.2f}%; a share is 'every {k}th' when it is nearer 1/{k} than 1/{k - 1} "
        f"({100 / (k - 1):.2f}%) or 1/{k + 1} ({100 / (k + 1):.2f}%): ({low:.2f}%, {high:.2f}%]; "
        f"{fig['value_reported']}%{_status(fig)} is {'inside' if ok else 'outside'} (distance to 1/{k}: "
        f"{abs(share - 100 / k):.2f} points, to 1/{k - 1}: {abs(share - 100 / (k - 1)):.2f}); tolerance: the interval",
        fig,
    )


def _exceeds(claim: dict, obs: pl.DataFrame) -> dict:
    """'a exceeded b' (rose, higher than): every value a's printed interval allows is above every value
    b's allows -> consistent; every value a allows is at or below every value b allows -> inconsistent;
    the intervals overlap -> inconclusive."""
    a, b = _figure(obs, claim["a"]), _figure(obs, claim["b"])
    if a is None or b is None:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "a figure of the claim is missing", a)
    ha, hb = _half(a["value_reported"]), _half(b["value_reported"])
    slack = max(abs(a["value"]), abs(b["value"]), 1.0) * EPS
    if a["value"] - ha >= b["value"] + hb - slack:
        verdict = CONSISTENT
    elif a["value"] + ha <= b["value"] - hb + slack:
        verdict = INCONSISTENT
    else:
        verdict = INCONCLUSIVE
    what = {CONSISTENT: "above", INCONSISTENT: "not above", INCONCLUSIVE: "not separable from"}[verdict]
    return _row(
        claim,
        _q(claim),
        b["value"],
        a["value"],
        max(ha, hb),
        verdict,
        f"{a['indicator_code']} {a['year']} = {a['value_reported']}{_status(a)} [{a['value'] - ha:.10g}, "
        f"{a['value'] + ha:.10g}) is {what} {b['indicator_code']} {b['year']} = {b['value_reported']}{_status(b)} "
        f"[{b['value'] - hb:.10g}, {b['value'] + hb:.10g})",
        a,
    )


def _rarely(claim: dict, obs: pl.DataFrame) -> dict:
    """'rarely': at most `threshold` % of the group. The part is an upper bound (e.g. all enterprises that
    implemented a standard, of any size) and the group its denominator: consistent when even the bound is
    below the threshold, inconclusive when only the bound exceeds it."""
    part, whole = _figure(obs, claim["upper_bound"]), _figure(obs, claim["group"])
    if part is None or whole is None or whole["value"] == 0:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "a figure of the claim is missing", part)
    bound, t = 100 * min(part["value"], whole["value"]) / whole["value"], float(claim["threshold"])
    return _row(
        claim,
        _q(claim),
        t,
        bound,
        0.0,
        CONSISTENT if bound <= t else INCONCLUSIVE,
        f"'{claim['quantifier']}' means at most {t:g}%; at most {part['value_reported']} "
        f"({part['indicator_code']}, {claim.get('bound_note', 'an upper bound')}) of {whole['value_reported']} "
        f"({whole['indicator_code']}) = {bound:.2f}% {'<=' if bound <= t else '>'} {t:g}%"
        + (f"; {claim['note']}" if claim.get("note") else ""),
        whole,
    )


def _extremum(claim: dict, obs: pl.DataFrame) -> dict:
    """'the smallest number in Y' (min), 'the largest fall in Y' (largest_fall): over the years
    [from, to]. Consistent when it holds and no unprinted year could overturn it; inconsistent when a
    printed year contradicts it; inconclusive when it holds on the printed years but a missing year could
    overturn it (the bound such a year would need is named)."""
    code, year, y0, y1 = claim["code"], claim["year"], *claim["years"]
    s = (
        obs.filter(
            pl.col("indicator_code") == code,
            pl.col("region_code") == NATIONAL,
            pl.col("period") == "Y",
            pl.col("year").is_between(y0, y1),
        )
        .unique("year", keep="first", maintain_order=True)
        .sort("year")
    )
    values = dict(zip(s["year"].to_list(), s["value"].to_list(), strict=True))
    missing = [y for y in range(y0, y1 + 1) if y not in values]
    fig = next((r for r in s.iter_rows(named=True) if r["year"] == year), None)
    shown = ", ".join(f"{y}={_g(v, 8)}" for y, v in values.items())
    miss = f"; not printed: {', '.join(map(str, missing))}" if missing else ""
    miss += "".join(f"; {r['year']}{_status(r)}" for r in s.iter_rows(named=True) if _status(r))
    if claim["which"] == "min":
        if year not in values:
            return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, f"{code} {year} is missing; {shown}")
        lower = [y for y, v in values.items() if v < values[year]]
        verdict = INCONSISTENT if lower else (INCONCLUSIVE if missing else CONSISTENT)
        why = (
            f"lower in {', '.join(map(str, lower))}"
            if lower
            else f"{year} is the lowest of the printed years"
            + (" (an unprinted year could be lower)" if missing else "")
        )
        return _row(claim, _q(claim), None, values[year], 0.0, verdict, f"{code}: {shown}{miss}; {why}", fig)
    # largest_fall: the change into `year` against every change between consecutive printed years
    if year not in values or year - 1 not in values:
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, f"{code} {year - 1} or {year} missing; {shown}")
    fall = values[year - 1] - values[year]
    ys = sorted(values)
    steps = {b: (a, values[a] - values[b]) for a, b in zip(ys, ys[1:], strict=False)}
    bigger = [f"{a}-{b} ({d:g})" for b, (a, d) in steps.items() if b != year and b - a == 1 and d > fall + EPS]
    gaps = [(a, b, d) for b, (a, d) in steps.items() if b - a > 1]
    if bigger:
        verdict, why = INCONSISTENT, f"a larger one-year fall: {', '.join(bigger)}"
    elif gaps:
        verdict = INCONCLUSIVE
        why = "; ".join(
            f"the fall into {year} ({fall:g}) is the largest between consecutive printed years, but across the gap "
            f"{a}-{b} (net change {-d:g}) a one-year fall above {fall:g} needs a value in between below "
            f"{values[a] - fall:g} or above {values[b] + fall:g}"
            for a, b, d in gaps
        )
    else:
        verdict, why = CONSISTENT, f"the fall into {year} ({fall:g}) is the largest one-year fall"
    return _row(claim, _q(claim), None, fall, 0.0, verdict, f"{code}: {shown}{miss}; {why}", fig)


def _conventions_count(claim: dict, con: duckdb.DuckDBPyConnection) -> dict:
    as_of = claim["as_of"] if isinstance(claim["as_of"], dt.date) else dt.date.fromisoformat(claim["as_of"])
    count, sources = con.sql(
        "SELECT count(*), min(source_id) FROM conventions WHERE ratification_date <= $d", params={"d": as_of}
    ).fetchall()[0]
    claimed = float(claim["claimed"])
    return _row(
        claim,
        EQUAL,
        claimed,
        float(count),
        0.0,
        CONSISTENT if count == claimed else INCONSISTENT,
        f"the annex lists {count} conventions ratified by {as_of}; a count is exact: tolerance 0",
        {"source_id": sources},
    )


def _convention_date(claim: dict, con: duckdb.DuckDBPyConnection) -> dict:
    """Order in time: the ratification law (the text's date) precedes or equals the ratification the
    annex registers, compared at the text's precision (day or month)."""
    found = con.sql(
        "SELECT ratification_date, note, source_id FROM conventions WHERE convention_no = $n",
        params={"n": claim["convention_no"]},
    ).fetchall()
    if not found:
        return _row(claim, ORDER, None, None, None, NOT_CHECKABLE, f"C{claim['convention_no']} is not in the annex")
    annex, note, source = found[0]
    text = claim["text_date"]
    by_day = claim.get("precision") == "day"
    law, reg = (text, annex) if by_day else ((text.year, text.month), (annex.year, annex.month))
    gap = (annex - text).days
    shown = text.isoformat() if by_day else text.strftime("%Y-%m")
    ok = law <= reg
    return _row(
        claim,
        ORDER,
        None,
        float(gap),
        0.0,
        CONSISTENT if ok else INCONSISTENT,
        f"law {shown}, annex {annex.isoformat()} ({gap:+d} days, compared by {'day' if by_day else 'month'}): the law "
        + ("comes first or on the same date, as it should" if ok else "is dated AFTER the ratification it enacts")
        + f"; annex note: {note or '-'}",
        {"source_id": source},
    )


def _correlation(claim: dict, con: duckdb.DuckDBPyConnection) -> dict:
    """A claimed correlation sign, judged symmetrically with the 95% confidence interval of r (Fisher z,
    scipy): supported (consistent) when it excludes zero on the claimed side, contradicted (inconsistent)
    when it excludes zero on the other side, inconclusive otherwise; not checkable without an interval
    (n < 4)."""
    years = tuple(claim["years"]) if claim.get("years") else None
    c = correlate(con, claim["x"], claim["y"], "national", years=years)
    r, n, low, high = c["pearson_r"], c["n"], c["pearson_ci_low"], c["pearson_ci_high"]
    sign = -1 if claim.get("sign", "negative") == "negative" else 1
    claimed = "negative" if sign < 0 else "positive"
    if r is None or low is None:
        verdict, why = NOT_CHECKABLE, f"n={n}: no confidence interval can be computed (needs n >= 4)"
    else:
        interval = f"r={r:.3f}, 95% CI [{low:.2f}, {high:.2f}], n={n}, p={c['pearson_p']:.3f}"
        if (sign < 0 and high < 0) or (sign > 0 and low > 0):
            verdict, why = CONSISTENT, f"{interval}: the interval excludes zero on the claimed ({claimed}) side"
        elif (sign < 0 and low > 0) or (sign > 0 and high < 0):
            verdict, why = INCONSISTENT, f"{interval}: the interval excludes zero on the other side"
        else:
            verdict, why = (
                INCONCLUSIVE,
                f"{interval}: the interval includes zero, so the data can neither support nor rule out "
                f"a {claimed} correlation",
            )
        if abs(r) >= claim.get("close", 0.7) and r * sign > 0:
            why += f" (|r| >= {claim.get('close', 0.7)}: 'close' in size)"
    return _row(
        claim,
        STATISTICAL,
        None,
        r,
        None,
        verdict,
        f"the review printed no coefficient; {why}; Spearman rho="
        f"{'n/a' if c['spearman_rho'] is None else format(c['spearman_rho'], '.3f')}; "
        f"years used: {c['observations_used'] or 'none'}; flags: {c['flags'] or 'none'}",
        {"indicator_code": claim["x"], "region_code": NATIONAL},
    )


def _same_figure(claim: dict, obs: pl.DataFrame) -> dict:
    a, b = _figure(obs, claim["a"]), _figure(obs, claim["b"])
    if a is None or b is None:
        return _row(claim, SAME, None, None, None, NOT_CHECKABLE, "a figure is missing in the sources", a)
    return _row(
        claim,
        SAME,
        a["value"],
        b["value"],
        0.0,
        NOT_CHECKABLE,
        f"{a['indicator_code']} = {a['value_reported']} ({a['source_id']}, counted as standards) and "
        f"{b['indicator_code']} = {b['value_reported']} ({b['source_id']}, counted as enterprises) are the same "
        "number with different units: either every enterprise implemented exactly one standard or one of the two "
        "labels is wrong; cannot be decided from the source",
        a,
        kind="cross-table",
    )


# The six-point scale (the review's Table 2): point -> label.
SCALE_LABELS = {
    1: "activity not complete",
    2: "activity incomplete due to objective external reasons",
    3: "measures to complete the activity were taken",
    4: "activity is in progress",
    5: "activity is complete",
    6: "activity over accomplished",
}


def _grades(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.sql(
        """SELECT code, parent_code, level, reported_grade::DOUBLE AS reported_grade, grade_used::DOUBLE AS grade,
                  source_id FROM _dwcp_scores"""
    ).pl()


def _grade_label(claim: dict, grades: pl.DataFrame) -> dict:
    """A label of the six-point scale given to a grade: label point p covers grades in [p - 0.5, p + 0.5)."""
    node = grades.filter(pl.col("code") == str(claim["node"]))
    fig = {"source_id": node["source_id"][0] if node.height else None}
    if node.is_empty() or node["grade"][0] is None:
        return _row(
            claim, _q(claim), None, None, None, NOT_CHECKABLE, f"node {claim['node']} has no grade", fig, "grade label"
        )
    g, p = node["grade"][0], int(claim["point"])
    ok = p - 0.5 - EPS <= g < p + 0.5 - EPS
    nearest = min(SCALE_LABELS, key=lambda k: (abs(k - g), -k))
    return _row(
        claim,
        _q(claim),
        float(p),
        g,
        0.5,
        CONSISTENT if ok else INCONSISTENT,
        f"'{claim['quantifier']}' is point {p} of the six-point scale ('{SCALE_LABELS[p]}'), i.e. a grade in "
        f"[{p - 0.5:g}, {p + 0.5:g}); {node['level'][0]} {claim['node']} has {g:g}, which is nearest point {nearest} "
        f"('{SCALE_LABELS[nearest]}')",
        fig,
        "grade label",
    )


def _children_done(claim: dict, grades: pl.DataFrame) -> dict:
    """'all' / 'almost all' activities of a node completed: a child is completed when its grade rounds half
    up to 5 or 6 (grade >= 4.5). 'all' = every child; 'almost all' = at least `share` (0.8) of them."""
    kids = grades.filter(pl.col("parent_code") == str(claim["node"])).sort("code")
    fig = {"source_id": kids["source_id"][0] if kids.height else None}
    if kids.is_empty() or kids["grade"].null_count():
        return _row(claim, _q(claim), None, None, None, NOT_CHECKABLE, "a child has no grade", fig, "grade label")
    done = kids.filter(pl.col("grade") >= 4.5 - EPS)
    need = 1.0 if claim["quantifier"] == "all" else float(claim.get("share", 0.8))
    share = done.height / kids.height
    listing = ", ".join(f"{c}={g:g}" for c, g in kids.select("code", "grade").iter_rows())
    return _row(
        claim,
        _q(claim),
        need,
        share,
        0.0,
        CONSISTENT if share >= need - EPS else INCONSISTENT,
        f"'{claim['quantifier']}' means at least {need:.0%} of the activities; completed = grade >= 4.5 (point 5 "
        f"or 6): {done.height} of {kids.height} ({share:.0%}); grades: {listing}",
        fig,
        "grade label",
    )


def text_claim(
    con: duckdb.DuckDBPyConnection, obs: pl.DataFrame, claim: dict, grades: pl.DataFrame | None = None
) -> dict:
    """One row for one claim of text_claims.yaml."""
    kind = claim["type"]
    on_obs = {
        "ratio": _ratio,
        "share": _share,
        "below": _below,
        "one_in_k": _one_in_k,
        "exceeds": _exceeds,
        "rarely": _rarely,
        "extremum": _extremum,
        "same_figure": _same_figure,
    }
    if kind in on_obs:
        return on_obs[kind](claim, obs)
    if kind == "conventions_count":
        return _conventions_count(claim, con)
    if kind == "convention_date":
        return _convention_date(claim, con)
    if kind == "correlation":
        return _correlation(claim, con)
    if kind in ("grade_label", "children_done"):
        grades = _grades(con) if grades is None else grades
        return (_grade_label if kind == "grade_label" else _children_done)(claim, grades)
    raise ValueError(f"text_claims.yaml: unknown claim type '{kind}'")


# --- part <= whole --------------------------------------------------------------------------------------


def part_whole(obs: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """Per region (and the total): the sum of the parts (one table) does not exceed the whole (another
    table). Counts: tolerance 0. Different reference dates are named in the detail."""
    cell = ["region_code"]
    whole = obs.filter(pl.col("indicator_code") == spec["whole"])
    parts = obs.filter(pl.col("indicator_code").is_in(spec["parts"]))
    summed = parts.group_by(cell).agg(
        pl.col("value").sum().alias("recomputed"),
        pl.len().alias("n"),
        pl.col("source_id").first().alias("other_source"),
        pl.col("year").first().alias("other_year"),
        pl.col("period").first().alias("other_period"),
    )
    summed = summed.filter(pl.col("n") == len(spec["parts"]))
    frame = whole.join(summed, on=cell, how="full", coalesce=True).with_columns(
        (pl.col("value") - pl.col("recomputed")).alias("diff")
    )
    label = " + ".join(spec["parts"])
    verdict = (
        pl.when(pl.col("value").is_null() | pl.col("recomputed").is_null())
        .then(pl.lit(NOT_CHECKABLE))
        .when(pl.col("recomputed") <= pl.col("value"))
        .then(pl.lit(CONSISTENT))
        .otherwise(pl.lit(INCONSISTENT))
    )
    return frame.select(
        pl.lit(spec["check"]).alias("check"),
        pl.lit(PART).alias("relation"),
        pl.col("value").alias("reported"),
        "recomputed",
        pl.lit(0.0).alias("tolerance"),
        verdict.alias("verdict"),
        pl.concat_str(
            pl.lit("part: " + label + " "),
            _fmt(pl.col("recomputed"), 0),
            pl.lit(" ("),
            pl.col("other_source").fill_null("-"),
            pl.lit(", " + spec.get("parts_reference", "")),
            pl.lit(") vs whole: " + spec["whole"] + " "),
            _fmt(pl.col("value"), 0),
            pl.lit(" ("),
            pl.col("source_id").fill_null("-"),
            pl.lit(", " + spec.get("whole_reference", "")),
            pl.lit("): "),
            pl.when(pl.col("diff") < 0)
            .then(pl.lit("the part EXCEEDS the whole by ") + _fmt(-pl.col("diff"), 0))
            .when(pl.col("diff").is_not_null())
            .then(pl.lit("the part is within the whole (") + _fmt(pl.col("diff"), 0) + pl.lit(" to spare)"))
            .otherwise(pl.lit("a side is missing")),
            pl.lit(". " + spec["note"]),
        ).alias("detail"),
        pl.lit("cross-table").alias("kind"),
        pl.col("indicator_code").fill_null(spec["whole"]),
        "region_code",
        "year",
        "period",
        pl.col("source_id").fill_null(pl.col("other_source")),
        pl.lit(spec["location"]).alias("location"),
    )


def components(obs: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """A reported total against the sum of its 'including' columns in the same row: part <= whole (the
    'including' columns need not be exhaustive; a shortfall is shown)."""
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
        .then(pl.lit(NOT_CHECKABLE))
        .when(pl.col("recomputed") <= pl.col("value"))
        .then(pl.lit(CONSISTENT))
        .otherwise(pl.lit(INCONSISTENT))
    )
    return frame.select(
        pl.lit(spec["check"]).alias("check"),
        pl.lit(PART).alias("relation"),
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
            .when(pl.col("recomputed") > pl.col("value"))
            .then(pl.lit("; the parts EXCEED the total"))
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


# --- one indicator, several sources -----------------------------------------------------------------------


def across_sources(obs: pl.DataFrame, spec: dict) -> pl.DataFrame:
    """One indicator from several sources, year by year (text_claims.yaml `across_sources`): each source
    keeps its own value and definition. Where the definitions differ the verdict is 'not checkable'
    ('definitions differ'), never 'inconsistent'; where they are the same, equality within the printed
    precision of the less precise side. The source ranked first in `precedence` is the reference."""
    defs: dict[str, str] = spec["definitions"]  # source_id -> definition
    order = spec.get("precedence", list(defs))
    rows = obs.filter(
        pl.col("indicator_code").is_in(spec["codes"]),
        pl.col("region_code") == NATIONAL,
        pl.col("period") == "Y",
        pl.col("source_id").is_in(list(defs)),
    ).with_columns(
        pl.col("source_id").replace_strict({s: i for i, s in enumerate(order)}, default=len(order)).alias("rank"),
        half_unit(pl.col("value_reported")).alias("h"),
    )
    best = (
        rows.sort("rank")
        .unique("year", keep="first")
        .rename(
            {
                c: f"ref_{c}"
                for c in ("indicator_code", "value", "value_reported", "source_id", "h", "rank", "obs_status")
            }
        )
        .select("year", "ref_indicator_code", "ref_value", "ref_value_reported", "ref_source_id", "ref_h", "ref_rank")
    )
    other = rows.join(best, on="year").filter(pl.col("source_id") != pl.col("ref_source_id"))
    if other.is_empty():
        return pl.DataFrame(schema=_TEXT_SCHEMA)
    other = other.with_columns(
        pl.col("ref_source_id").replace_strict(defs, default="?").alias("ref_def"),
        pl.col("source_id").replace_strict(defs, default="?").alias("def"),
        pl.max_horizontal("h", "ref_h").alias("tolerance"),
    )
    same_def = pl.col("def") == pl.col("ref_def")
    verdict = (
        pl.when(same_def)
        .then(interval_verdict(pl.col("value"), pl.col("ref_value"), pl.col("tolerance")))
        .otherwise(pl.lit(NOT_CHECKABLE))
    )
    return other.select(
        pl.lit(spec["check"]).alias("check"),
        pl.lit(SOURCES).alias("relation"),
        pl.col("value").alias("reported"),
        pl.col("ref_value").alias("recomputed"),
        "tolerance",
        verdict.alias("verdict"),
        pl.concat_str(
            pl.when(same_def).then(pl.lit("same definition: ")).otherwise(pl.lit("definitions differ: ")),
            pl.col("indicator_code"),
            pl.lit(" "),
            pl.col("value_reported"),
            pl.lit(" ("),
            pl.col("source_id"),
            pl.lit(": "),
            pl.col("def"),
            pl.lit(") vs "),
            pl.col("ref_indicator_code"),
            pl.lit(" "),
            pl.col("ref_value_reported"),
            pl.lit(" ("),
            pl.col("ref_source_id"),
            pl.lit(": "),
            pl.col("ref_def"),
            pl.lit("); difference "),
            _fmt(pl.col("value") - pl.col("ref_value"), 3),
            pl.when(same_def)
            .then(pl.lit(""))
            .otherwise(pl.lit("; not an inconsistency: the two measure different populations, both are kept")),
            pl.lit("; precedence: " + " > ".join(order)),
            _status_note(),
        ).alias("detail"),
        pl.lit("sources").alias("kind"),
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


def severity(verdict: pl.Expr, relation: pl.Expr) -> pl.Expr:
    """finding: inconsistent; warning: revised, inconclusive, or one figure in two units; info: the rest."""
    return (
        pl.when(verdict == INCONSISTENT)
        .then(pl.lit("finding"))
        .when(verdict.is_in([REVISED, INCONCLUSIVE]) | (relation == SAME))
        .then(pl.lit("warning"))
        .otherwise(pl.lit("info"))
    )


def compute(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    doc = claims()
    obs = observations(con, ref, doc)  # Kazakhstan's rows of the checked indicators only
    grades = _grades(con) if any(c["type"] in ("grade_label", "children_done") for c in doc["claims"]) else None
    text = pl.DataFrame([text_claim(con, obs, c, grades) for c in doc["claims"]], schema=_TEXT_SCHEMA)
    frames = [
        regional_sums(obs, ref),
        shares(obs, ref),
        revisions(con, obs),
        text,
        *[part_whole(obs, spec) for spec in doc.get("part_whole", [])],
        *[components(obs, spec) for spec in doc.get("components", [])],
        *[across_sources(obs, spec) for spec in doc.get("across_sources", [])],
    ]
    out = pl.concat([_conform(f) for f in frames])
    return out.with_columns(severity(pl.col("verdict"), pl.col("relation")).alias("severity"))
