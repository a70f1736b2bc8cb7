"""The decent-work country profile: the ILO framework (framework.yaml beside this file) and its indicators
computed from whatever the warehouse holds.

Two builders: `_framework` (the framework as a table: elements, statistical indicators with tier, definition,
unit, ILOSTAT ids, SDG code and the bureau's row; the legal framework indicators with tier L) and
`_profile_values` (every value of a framework indicator, for every country and region the observations have):
- reported values: the observations of the codes each indicator's `series` lists (its preference order is
  kept in `rank`), with their sex, classifications, source, row and flag; a proxy series says so in `method`;
- derived values (`derive.share`): a share computed from counts of one ILOSTAT code, within one source,
  country, region, year, period and sex; missing whenever the numerator or the denominator is;
- gaps between women and men: women minus men, per source, year and breakdown, for indicators in percent or
  in a rate (sex `F-M`).
Nothing is filled in: a year with no value has no row.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from dwi.config import read_yaml
from dwi.reference import Reference

FRAMEWORK = Path(__file__).with_name("framework.yaml")
TIERS = ("M", "A", "F", "C", "L")
GAP = "F-M"

FRAMEWORK_SCHEMA = {
    "position": pl.Int32,
    "element_id": pl.String,
    "element": pl.String,
    "element_ru": pl.String,
    "indicator": pl.String,
    "name": pl.String,
    "name_ru": pl.String,
    "tier": pl.String,
    "confirmed": pl.Boolean,
    "tier_source": pl.String,
    "definition": pl.String,
    "unit": pl.String,
    "ilostat_ids": pl.String,
    "sdg": pl.String,
    "bureau_row": pl.Int32,
    "bureau_label": pl.String,
    "bureau_tier": pl.String,
    "series": pl.String,
    "derivation": pl.String,
    "conventions": pl.String,
    "notes": pl.String,
}

VALUES_SCHEMA = {
    "country": pl.String,
    "region": pl.String,
    "indicator": pl.String,
    "sex": pl.String,
    "classif1": pl.String,
    "classif2": pl.String,
    "year": pl.Int32,
    "period": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "source_id": pl.String,
    "source_code": pl.String,
    "source_row": pl.Int64,
    "status": pl.String,
    "derived": pl.Boolean,
    "method": pl.String,
    "rank": pl.Int32,
    "note": pl.String,
}


@cache
def framework(path: Path = FRAMEWORK) -> dict:
    """The framework YAML as read."""
    return read_yaml(path)


def indicators(doc: dict | None = None) -> list[dict]:
    """Every statistical indicator, with its element's id, English and Russian names added."""
    doc = doc or framework()
    return [
        {**i, "element_id": e["id"], "element": e["en"], "element_ru": e["ru"]}
        for e in doc["elements"]
        for i in e["indicators"]
    ]


def _share_method(share: dict) -> str:
    num = " + ".join(share["numerator"])
    if share.get("by_numerator"):
        num = "each of " + ", ".join(share["numerator"])
    return (
        f"derived: {share['code']} for {num} / {' + '.join(share['denominator'])} x 100 "
        "(one source, country, region, year, period and sex)"
    )


def framework_frame(doc: dict | None = None) -> pl.DataFrame:
    """The framework as rows: statistical indicators, then each element's legal framework indicators (tier L)."""
    doc = doc or framework()
    rows = []
    for e in doc["elements"]:
        for i in e["indicators"]:
            bureau = i.get("bureau") or {}
            share = (i.get("derive") or {}).get("share")
            rows.append(
                {
                    "element_id": e["id"],
                    "element": e["en"],
                    "element_ru": e["ru"],
                    "indicator": i["id"],
                    "name": i["en"],
                    "name_ru": i["ru"],
                    "tier": i["tier"],
                    "confirmed": bool(i["confirmed"]),
                    "tier_source": i.get("tier_source"),
                    "definition": i.get("definition"),
                    "unit": i.get("unit"),
                    "ilostat_ids": ", ".join(i.get("ilostat") or []) or None,
                    "sdg": i.get("sdg"),
                    "bureau_row": bureau.get("row"),
                    "bureau_label": " ".join(str(bureau["label"]).split()) if bureau else None,
                    "bureau_tier": bureau.get("tier"),
                    "series": ", ".join(s["code"] for s in i.get("series") or []) or None,
                    "derivation": _share_method(share) if share else None,
                    "conventions": None,
                    "notes": i.get("notes"),
                }
            )
        for n, law in enumerate(e.get("legal") or [], start=1):
            conventions = ", ".join(f"C{c:03d}" for c in law.get("conventions") or [])
            rows.append(
                {
                    "element_id": e["id"],
                    "element": e["en"],
                    "element_ru": e["ru"],
                    "indicator": f"{e['id']}_L{n}",
                    "name": law["en"],
                    "name_ru": law["ru"],
                    "tier": "L",
                    "confirmed": bool(law["confirmed"]),
                    "tier_source": "ilo2013",
                    "definition": "Legal framework indicator: the law, its coverage and its application.",
                    "conventions": conventions or None,
                    "notes": f"Relevant ILO conventions: {conventions}" if conventions else None,
                }
            )
    frame = pl.DataFrame(rows, schema={k: v for k, v in FRAMEWORK_SCHEMA.items() if k != "position"})
    return frame.with_row_index("position", offset=1).with_columns(pl.col("position").cast(pl.Int32))


def framework_table(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    """Builder: the `_framework` table."""
    return framework_frame()


def _selectors(items: list[dict]) -> pl.DataFrame:
    """One row per (indicator, series code, accepted classif1 and sex, or null for any)."""
    rows = []
    for i in items:
        for rank, s in enumerate(i.get("series") or [], start=1):
            method = f"reported (proxy: {s['proxy']})" if s.get("proxy") else "reported"
            for c1 in s.get("classif1") or [None]:
                for sex in s.get("sex") or [None]:
                    rows.append(
                        {"indicator": i["id"], "code": s["code"], "want_c1": c1, "want_sex": sex, "method": method}
                        | {"rank": rank}
                    )
    schema = {
        "indicator": pl.String,
        "code": pl.String,
        "want_c1": pl.String,
        "want_sex": pl.String,
        "method": pl.String,
        "rank": pl.Int32,
    }
    return pl.DataFrame(rows, schema=schema)


def _shares(items: list[dict]) -> pl.DataFrame:
    rows = []
    for i in items:
        share = (i.get("derive") or {}).get("share")
        if not share:
            continue
        for part, codes in (("num", share["numerator"]), ("den", share["denominator"])):
            for c1 in codes:
                rows.append(
                    {
                        "indicator": i["id"],
                        "code": share["code"],
                        "c1": c1,
                        "part": part,
                        "split": bool(share.get("by_numerator")),
                        "method": _share_method(share),
                    }
                )
    schema = {
        "indicator": pl.String,
        "code": pl.String,
        "c1": pl.String,
        "part": pl.String,
        "split": pl.Boolean,
        "method": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


_OBS = """
    SELECT o.country,
           CASE WHEN o.region_code = o.country OR r.kind = 'country' THEN NULL ELSE o.region_code END AS region,
           o.indicator_code, o.sex, o.classif1, o.classif2, o.year::INTEGER AS year, o.period, o.value, o.unit,
           o.source_id, o.source_row::BIGINT AS source_row, o.obs_status, o.note
    FROM observations o LEFT JOIN _regions r ON r.code = o.region_code
    WHERE o.indicator_code IN (SELECT code FROM _wanted)
"""


def compute(con: duckdb.DuckDBPyConnection, ref: Reference) -> pl.DataFrame:
    """Builder: the `_profile_values` table (see the module docstring)."""
    items = indicators()
    sel, shares = _selectors(items), _shares(items)
    wanted = pl.concat([sel.select("code"), shares.select("code")]).unique()
    con.register("_wanted", wanted.to_arrow())
    con.register("_sel", sel.to_arrow())
    con.register("_shares", shares.to_arrow())
    try:
        reported = con.sql(f"""
            WITH obs AS ({_OBS})
            SELECT o.country, o.region, s.indicator, o.sex, o.classif1, o.classif2, o.year, o.period, o.value,
                   o.unit, o.source_id, o.indicator_code AS source_code, o.source_row, o.obs_status AS status,
                   false AS derived, s.method, s.rank, o.note
            FROM obs o JOIN _sel s ON s.code = o.indicator_code
                 AND (s.want_c1 IS NULL OR s.want_c1 = o.classif1)
                 AND (s.want_sex IS NULL OR s.want_sex = o.sex)""").pl()
        derived = con.sql(f"""
            WITH obs AS ({_OBS}),
            parts AS (
                SELECT s.indicator, s.part, s.split, s.method, s.c1, o.*
                FROM obs o JOIN _shares s ON s.code = o.indicator_code AND s.c1 = o.classif1),
            num AS (
                SELECT indicator, method, country, region, sex, year, period, source_id, indicator_code,
                       CASE WHEN split THEN c1 END AS classif1, classif2,
                       sum(value) AS value, count(*) AS n, string_agg(DISTINCT obs_status, '') AS status
                FROM parts WHERE part = 'num'
                GROUP BY ALL),
            den AS (
                SELECT indicator, country, region, sex, year, period, source_id, classif2,
                       sum(value) AS value, string_agg(DISTINCT obs_status, '') AS status
                FROM parts WHERE part = 'den'
                GROUP BY ALL)
            SELECT n.country, n.region, n.indicator, n.sex, n.classif1, n.classif2, n.year, n.period,
                   100 * n.value / d.value AS value, 'percent' AS unit, n.source_id,
                   n.indicator_code AS source_code, NULL::BIGINT AS source_row,
                   nullif(concat_ws('', n.status, d.status), '') AS status, true AS derived, n.method,
                   0 AS rank
            FROM num n JOIN den d
                 ON d.indicator = n.indicator AND d.country = n.country AND d.sex = n.sex AND d.year = n.year
                 AND d.period = n.period AND d.source_id = n.source_id
                 AND d.region IS NOT DISTINCT FROM n.region AND d.classif2 IS NOT DISTINCT FROM n.classif2
            WHERE d.value > 0
              -- every numerator part is there (a missing part would make the share too small)
              AND (n.classif1 IS NOT NULL OR n.n = (SELECT count(*) FROM _shares s
                                                    WHERE s.indicator = n.indicator AND s.part = 'num'))
        """).pl()
    finally:
        for name in ("_wanted", "_sel", "_shares"):
            con.unregister(name)
    values = pl.concat([_conform(reported), _conform(derived)])
    return pl.concat([values, gaps(values, items)]).sort(
        "country",
        "indicator",
        "rank",
        "source_id",
        "region",
        "sex",
        "classif1",
        "classif2",
        "year",
        "period",
        nulls_last=False,
    )


def gaps(values: pl.DataFrame, items: list[dict]) -> pl.DataFrame:
    """Women minus men for each indicator whose unit is a percent or a rate (unless `gap: false`), per country,
    region, source, code, breakdown, year and period: sex F-M, derived."""
    eligible = [
        i["id"]
        for i in items
        if i.get("gap", True) and (i.get("unit") == "percent" or str(i.get("unit", "")).startswith("per "))
    ]
    key = ["country", "region", "indicator", "classif1", "classif2", "year", "period", "source_id", "source_code"]
    base = values.filter(pl.col("indicator").is_in(eligible))
    women = base.filter(pl.col("sex") == "F")
    men = base.filter(pl.col("sex") == "M").select(
        *key, pl.col("value").alias("men"), pl.col("status").alias("men_status"), pl.col("unit").alias("men_unit")
    )
    out = women.join(men, on=key, nulls_equal=True).filter(pl.col("unit") == pl.col("men_unit"))
    unit_gap = pl.when(pl.col("unit") == "percent").then(pl.lit("percentage points")).otherwise(pl.col("unit"))
    return _conform(
        out.with_columns(
            (pl.col("value") - pl.col("men")).alias("value"),
            pl.lit(GAP).alias("sex"),
            unit_gap.alias("unit"),
            pl.lit(None, dtype=pl.Int64).alias("source_row"),
            pl.concat_str([pl.col("status"), pl.col("men_status")], ignore_nulls=True)
            .replace("", None)
            .alias("status"),
            pl.lit(True).alias("derived"),
            pl.lit("derived: women minus men (same source, year and breakdown)").alias("method"),
        )
    )


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in VALUES_SCHEMA.items() if c not in frame.columns]
    return frame.with_columns(missing).select([pl.col(c).cast(t) for c, t in VALUES_SCHEMA.items()])
