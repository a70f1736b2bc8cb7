"""Correlations between indicator series, with the caveats the numbers need (the `correlations` view).

One function, `correlate`, serves the builder (pairs in dwi/reference/correlation_pairs.yaml) and the
`dwi correlate X Y` command. Statistics come from scipy.stats (pearsonr with its Fisher-z confidence
interval, spearmanr); nothing is hand-coded.

Definitions (also in docs/methods/correlations.md):
- national scope: annual values of region KZ matched by year; regions scope: one value per region
  (national total row excluded) at the reference period with the most regions (latest on a tie).
  Regions are Kazakhstan's: the region codes of the region reference (table `_regions`), never the other
  areas of an ILOSTAT or WDI file (their region_code is their area code).
- Which value is used when a year has several (reported and derived): derived first for codes marked
  `preferred: true` in `derived_variants` of indicators.yaml (GDP_GROWTH), reported first otherwise;
  then non-provisional before provisional. The origin of every point is in observations_used.
- Differences: x_t - x_(t-1) for consecutive years only, and only when both ends have the same origin
  (a difference never mixes vintages). diff_pearson_r is Pearson r on the years where both differ.
- Values a source implies but does not print, and values whose key corrects a misprint (obs_status
  implied, corrected), are left out and named in flags, unless asked for (`dwi correlate
  --include-unprinted`).
- Statistics are NULL when n < 3 (pearson_ci_* when n < 4: the Fisher interval needs n > 3).
- flags: 'small sample' (n < 8); 'trending' (national, diff_n >= 3: levels r and differences r have
  opposite signs or differ by more than 0.5); 'influential point' (leaving one year/region out flips the
  sign of r or moves p across 0.05); 'mixed sources' (a series' points come from different sources or
  vintages); 'reference periods differ' (regions: x and y are not from the same period).
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from dwi.config import REFERENCE_DIR, read_yaml
from dwi.derive.indicators import NATIONAL, UNPRINTED, registry
from dwi.errors import DwiError
from dwi.reference import Reference

SMALL_N = 8
ALPHA = 0.05
DISAGREE = 0.5  # |r_levels - r_differences| above which levels and differences "disagree"

SCHEMA: dict[str, pl.DataType] = {
    "x_indicator": pl.String,
    "y_indicator": pl.String,
    "scope": pl.String,
    "observations_used": pl.String,
    "n": pl.Int64,
    "pearson_r": pl.Float64,
    "pearson_p": pl.Float64,
    "pearson_ci_low": pl.Float64,
    "pearson_ci_high": pl.Float64,
    "spearman_rho": pl.Float64,
    "spearman_p": pl.Float64,
    "diff_pearson_r": pl.Float64,
    "diff_n": pl.Int64,
    "flags": pl.String,
    "diff_pearson_p": pl.Float64,
    "diff_observations": pl.String,
    "x_reference": pl.String,
    "y_reference": pl.String,
    "why": pl.String,
}


@cache
def pairs(directory: Path = REFERENCE_DIR) -> list[dict]:
    return read_yaml(directory / "correlation_pairs.yaml")["pairs"]


def _preferred_derived() -> set[str]:
    return {v["code"] for v in registry().get("derived_variants", []) if v.get("preferred")}


def series(
    con: duckdb.DuckDBPyConnection,
    code: str,
    scope: str,
    years: tuple[int, int] | None = None,
    include_unprinted: bool = False,
) -> pl.DataFrame:
    """One value per key (year as text, or region code): key, value, origin, reference. Only Kazakhstan's
    rows: national = region KZ (the national total; another country's region_code is its ISO3 or aggregate
    area code), regions = the codes of the region reference other than KZ. Values the source implies but
    does not print, or whose key was corrected (obs_status implied, corrected), are left out unless
    `include_unprinted`."""
    where = (
        f"region_code = '{NATIONAL}' AND period = 'Y'"
        if scope == "national"
        else f"region_code IN (SELECT code FROM _regions WHERE code <> '{NATIONAL}')"
    )
    if not include_unprinted:
        where += f" AND coalesce(obs_status, '') NOT IN ({', '.join(repr(s) for s in UNPRINTED)})"
    if years:
        where += f" AND year BETWEEN {int(years[0])} AND {int(years[1])}"
    frame = con.sql(
        f"""SELECT region_code, year, period, value, derived, source_id, obs_status, classif1, classif2
                        FROM _indicator_values
                        WHERE indicator_code = $code AND value IS NOT NULL AND sex = 'T' AND {where}""",
        params={"code": code},
    ).pl()
    frame = one_breakdown(frame)
    if scope == "regions" and frame.height:
        best = (
            frame.group_by("year", "period")
            .agg(pl.len().alias("n"))
            .sort("n", "year", "period", descending=True)
            .row(0, named=True)
        )
        frame = frame.filter(pl.col("year") == best["year"], pl.col("period") == best["period"])
    prefer_derived = code in _preferred_derived()
    frame = frame.with_columns(
        pl.when(scope == "national").then(pl.col("year").cast(pl.String)).otherwise(pl.col("region_code")).alias("key"),
        pl.concat_str(
            pl.when(pl.col("derived")).then(pl.lit("derived/")).otherwise(pl.lit("")),
            pl.col("source_id").fill_null("dwi"),
            pl.when(pl.col("obs_status").is_not_null() & (pl.col("obs_status") != ""))
            .then(" (" + pl.col("obs_status") + ")")
            .otherwise(pl.lit("")),
        ).alias("origin"),
        (pl.col("derived") != prefer_derived).alias("_second"),
        (pl.col("obs_status").fill_null("") == "P").alias("_provisional"),
        pl.concat_str(pl.col("year").cast(pl.String), pl.col("period"), separator=" ").alias("reference"),
    )
    return (
        frame.sort("key", "_second", "_provisional", "source_id")
        .unique("key", keep="first", maintain_order=True)
        .select("key", "year", "value", "origin", "reference")
        .sort("key")
    )


def one_breakdown(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows of one breakdown (classif1, classif2) only, so that a series never mixes two (ages 15-24 and
    25+ of one year are two values, not one): the one without a breakdown if any, else the one with the most
    values (ties: the first in code order)."""
    if frame.is_empty():
        return frame
    best = (
        frame.group_by("classif1", "classif2")
        .agg(pl.len().alias("n"))
        .with_columns((pl.col("classif1").is_null() & pl.col("classif2").is_null()).alias("_none"))
        .sort(["_none", "n", "classif1", "classif2"], descending=[True, True, False, False], nulls_last=True)
        .row(0, named=True)
    )
    return frame.filter(
        pl.col("classif1").eq_missing(best["classif1"]) & pl.col("classif2").eq_missing(best["classif2"])
    )


def _diffs(s: pl.DataFrame) -> pl.DataFrame:
    """x_t - x_(t-1): consecutive years, same origin at both ends."""
    prev = s.select(
        (pl.col("year") + 1).alias("year"),
        pl.col("value").alias("prev"),
        pl.col("origin").alias("prev_origin"),
    )
    return (
        s.join(prev, on="year")
        .filter(pl.col("origin") == pl.col("prev_origin"))
        .select("year", (pl.col("value") - pl.col("prev")).alias("d"))
    )


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None, float | None, float | None]:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None, None, None, None
    res = stats.pearsonr(x, y)
    low = high = None
    if len(x) > 3:
        ci = res.confidence_interval(confidence_level=0.95)
        low, high = float(ci.low), float(ci.high)
    return float(res.statistic), float(res.pvalue), low, high


def _leave_one_out(x: np.ndarray, y: np.ndarray, r: float, p: float, keys: list[str]) -> list[str]:
    """Points whose removal flips the sign of r or moves p across ALPHA (needs n - 1 >= 3)."""
    n = len(x)
    if n < 4:
        return []
    keep = ~np.eye(n, dtype=bool)
    xs, ys = (
        np.broadcast_to(x, (n, n))[keep].reshape(n, n - 1),
        np.broadcast_to(y, (n, n))[keep].reshape(n, n - 1),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.pearsonr(xs, ys, axis=1)
    out = []
    for key, r_i, p_i in zip(keys, np.atleast_1d(res.statistic), np.atleast_1d(res.pvalue), strict=True):
        if np.isnan(r_i):
            continue
        if np.sign(r_i) != np.sign(r) or (p_i < ALPHA) != (p < ALPHA):
            out.append(f"{key} (without it r={r_i:.3f}, p={p_i:.3f})")
    return out


def _mixed(joined: pl.DataFrame, col: str, code: str) -> str | None:
    groups = joined.group_by(col).agg(pl.col("key").sort().str.join(", ")).sort("key")
    if groups.height < 2:
        return None
    parts = "; ".join(f"{o} for {k}" for o, k in groups.iter_rows())
    return f"mixed sources in {code}: {parts}"


def correlate(
    con: duckdb.DuckDBPyConnection,
    x_code: str,
    y_code: str,
    scope: str,
    why: str | None = None,
    years: tuple[int, int] | None = None,
    include_unprinted: bool = False,
) -> dict:
    """One row of the `correlations` view for the pair, computed from `_indicator_values`. Implied and
    corrected values (obs_status) are left out, and named in flags, unless `include_unprinted`."""
    if scope not in ("national", "regions"):
        raise DwiError(f"scope must be national or regions, not '{scope}'")
    xs = series(con, x_code, scope, years, include_unprinted)
    ys = series(con, y_code, scope, years, include_unprinted)
    joined = xs.join(ys, on="key", suffix="_y").sort("key")
    n = joined.height
    x, y = joined["value"].to_numpy(), joined["value_y"].to_numpy()
    keys = joined["key"].to_list()
    if scope == "regions" and n:
        names = dict(con.sql("SELECT code, name_en FROM _regions").fetchall())
        keys = [f"{k} {names.get(k, '')}".strip() for k in keys]
    r, p, low, high = _pearson(x, y)
    rho = rho_p = None
    if r is not None:
        sp = stats.spearmanr(x, y)
        rho, rho_p = float(sp.statistic), float(sp.pvalue)
    flags = []
    if n == 0:
        flags.append(f"no overlapping observations ({x_code}: {xs.height}, {y_code}: {ys.height} in scope)")
    elif n < 3:
        flags.append(f"too few observations for statistics (n={n}; at least 3 needed)")
    elif r is None:
        flags.append("a series is constant over the common observations: r undefined")
    if 0 < n < SMALL_N:
        flags.append(f"small sample (n={n} < {SMALL_N})")
    diff_r = diff_p = None
    diff_n, diff_obs = None, None
    if scope == "national":
        d = _diffs(xs).join(_diffs(ys), on="year", suffix="_y").sort("year")
        diff_n = d.height
        diff_obs = ", ".join(str(v) for v in d["year"].to_list())
        diff_r, diff_p, _, _ = _pearson(d["d"].to_numpy(), d["d_y"].to_numpy())
        if r is not None:
            if diff_r is None:
                flags.append(f"trend check not possible (diff_n={diff_n}: differences r undefined)")
            elif np.sign(diff_r) != np.sign(r) or abs(r - diff_r) > DISAGREE:
                flags.append(
                    f"trending: levels r={r:.3f} and year-on-year differences r={diff_r:.3f} "
                    f"disagree (opposite signs or |difference| > {DISAGREE})"
                )
    if r is not None:
        loo = _leave_one_out(x, y, r, p, keys)
        if loo:
            flags.append("influential point: " + "; ".join(loo) + f" (sign or significance at {ALPHA} changes)")
    left_out = [] if include_unprinted else unprinted(con, (x_code, y_code), scope, years)
    if left_out:
        flags.append("left out (not printed as such; include with --include-unprinted): " + "; ".join(left_out))
    for col, code in (("origin", x_code), ("origin_y", y_code)):
        if n and (m := _mixed(joined, col, code)):
            flags.append(m)
    x_ref = ", ".join(sorted(set(joined["reference"].to_list()))) if n else None
    y_ref = ", ".join(sorted(set(joined["reference_y"].to_list()))) if n else None
    if scope == "regions" and n and x_ref != y_ref:
        flags.append(f"reference periods differ: {x_code} {x_ref}, {y_code} {y_ref}")
    used = "; ".join(
        f"{k}: x {ox}, y {oy}"
        for k, ox, oy in zip(keys, joined["origin"].to_list(), joined["origin_y"].to_list(), strict=True)
    )
    return {
        "x_indicator": x_code,
        "y_indicator": y_code,
        "scope": scope,
        "observations_used": used,
        "n": n,
        "pearson_r": r,
        "pearson_p": p,
        "pearson_ci_low": low,
        "pearson_ci_high": high,
        "spearman_rho": rho,
        "spearman_p": rho_p,
        "diff_pearson_r": diff_r,
        "diff_n": diff_n,
        "flags": "; ".join(flags) or None,
        "diff_pearson_p": diff_p,
        "diff_observations": diff_obs,
        "x_reference": x_ref if scope == "regions" else (f"years {keys[0]}-{keys[-1]}" if n else None),
        "y_reference": y_ref if scope == "regions" else None,
        "why": why,
    }


def unprinted(
    con: duckdb.DuckDBPyConnection, codes: tuple[str, ...], scope: str, years: tuple[int, int] | None
) -> list[str]:
    """'UNEMP_RATE 2008 (implied)' for each value of the codes in scope that `series` leaves out."""
    where = f"region_code = '{NATIONAL}' AND period = 'Y'" if scope == "national" else f"region_code <> '{NATIONAL}'"
    if years:
        where += f" AND year BETWEEN {int(years[0])} AND {int(years[1])}"
    found = con.sql(
        f"""SELECT indicator_code, region_code, year, obs_status FROM _indicator_values
            WHERE indicator_code IN (SELECT unnest($codes::VARCHAR[])) AND {where}
              AND obs_status IN ({", ".join(repr(s) for s in UNPRINTED)})
            ORDER BY 1, 2, 3""",
        params={"codes": list(codes)},
    ).fetchall()
    return [f"{c} {y}{'' if scope == 'national' else ' ' + r} ({s})" for c, r, y, s in found]


def compute(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    """The rows of _correlations: the pairs in correlation_pairs.yaml."""
    rows = [correlate(con, p["x"], p["y"], p["scope"], p.get("why")) for p in pairs()]
    return pl.DataFrame(rows, schema=SCHEMA)


def known_code(con: duckdb.DuckDBPyConnection, code: str) -> bool:
    return bool(
        con.sql("SELECT 1 FROM _indicator_values WHERE indicator_code = $c LIMIT 1", params={"c": code}).fetchall()
        or con.sql("SELECT 1 FROM _indicators WHERE code = $c", params={"c": code}).fetchall()
    )
