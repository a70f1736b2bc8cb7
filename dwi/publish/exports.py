"""`dwi export`: indicator values with their metadata and provenance, as CSV, Parquet, XLSX, JSON, SDMX-CSV.

Values come from the `indicator_values` view (reported and derived values) or, in a warehouse built
before it existed, from `observations`. Every text cell that a spreadsheet would read as a formula
(starting with = + - @, a tab or a carriage return) is neutralised: prefixed with an apostrophe in the
text formats, written as a typed string cell in XLSX (see docs/exports.md, "Formula injection").
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from dwi import __version__
from dwi.config import REFERENCE_DIR, read_yaml
from dwi.errors import DwiError
from dwi.publish.files import replacing

FORMATS = ("csv", "parquet", "xlsx", "json", "sdmx-csv")
FORMULA_START = r"^[=+\-@\t\r]"

# The tidy long form, in this order: (column, meaning). docs/exports.md shows this table (generated).
COLUMNS: dict[str, str] = {
    "indicator_code": "registry code (see the indicators sheet / view)",
    "indicator_name": "indicator name",
    "element": "ILO decent-work framework element",
    "country": "ISO3 code or ILOSTAT/World Bank aggregate code (KAZ for Kazakhstan)",
    "region_code": "ISO 3166-2:KZ code (KZ = Kazakhstan); for another country or aggregate its area code",
    "region_name": "region, country or aggregate name (English)",
    "sex": "T total, M men, F women (O other, ILOSTAT)",
    "classif1": "first breakdown (ILOSTAT classif1, e.g. AGE_YTHADULT_Y15-24); empty when none",
    "classif2": "second breakdown (ILOSTAT classif2); empty when none",
    "year": "reference year",
    "period": "Y year, H1-H2 half-year, Q1-Q4 quarter, M01-M12 month",
    "time_period": "SDMX-style period: 2011, 2011-S1, 2011-Q2, 2012-03",
    "value": "the value (as reported, or derived when derived = true)",
    "unit": "unit of the value",
    "obs_status": (
        "flag: E estimate, P provisional, B break in series, implied (stated in words, not printed), "
        "corrected (a misprint corrected), ... (empty = normal)"
    ),
    "derived": "true when dwi computed the value from other values (see method)",
    "method": "how a derived value was computed (its inputs)",
    "source_id": "the source it came from (see the sources sheet / view)",
    "source_title": "title of the source",
    "load_id": "the load that brought it into the warehouse (see loads)",
    "source_ref": "the place in the source document",
    "note": "the source's or dwi's note on the value",
}
OPTIONAL_VALUE_COLUMNS = (
    "country",
    "sex",
    "classif1",
    "classif2",
    "obs_status",
    "source_id",
    "load_id",
    "source_ref",
    "note",
    "method",
)

# Tables besides the values that go into the XLSX workbook (view -> sheet name), when the view exists.
SHEETS = {
    "indicators": "indicators",
    "regions": "regions",
    "sources": "sources",
    "loads": "loads",
    "quality_issues": "quality",
    "correlations": "correlations",
    "reconciliation": "reconciliation",
    "dwcp_scores": "dwcp_scores",
}


@cache
def sdmx_spec() -> dict:
    return read_yaml(REFERENCE_DIR / "sdmx.yaml")


def dataflow_ref() -> str:
    d = sdmx_spec()["dataflow"]
    return f"{d['agency']}:{d['id']}({d['version']})"


def views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def view_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]


def _check_codes(con: duckdb.DuckDBPyConnection, kind: str, codes: list[str], query: str) -> None:
    known = {r[0] for r in con.execute(query).fetchall()}
    unknown = sorted(set(codes) - known)
    if unknown:
        where = "select distinct country from indicator_values" if kind == "country" else f"select code from {kind}s"
        raise DwiError(f'unknown {kind} code(s): {", ".join(unknown)} (see `dwi sql "{where}"`)')


def values_frame(
    con: duckdb.DuckDBPyConnection,
    indicators: Iterable[str] = (),
    regions: Iterable[str] = (),
    countries: Iterable[str] = (),
) -> pl.DataFrame:
    """Indicator values in the tidy long form of COLUMNS, optionally filtered by indicator, region and country
    codes (ISO3 or aggregate codes of the rows loaded)."""
    indicators, regions, countries = list(indicators), list(regions), [c.upper() for c in countries]
    present = views(con)
    base = "indicator_values" if "indicator_values" in present else "observations"
    if indicators:
        _check_codes(
            con,
            "indicator",
            indicators,
            f"SELECT code FROM indicators UNION SELECT indicator_code FROM {base}",
        )
    if regions:  # Kazakhstan's regions, or any country or aggregate whose rows were loaded (AFG, X01, WLD)
        _check_codes(con, "region", regions, f"SELECT code FROM regions UNION SELECT region_code FROM {base}")
    areas = "countries" in present  # names of other countries and aggregates (not in older warehouses)
    cols = set(view_columns(con, base))
    pick = {c: (f"v.{c}" if c in cols else "NULL") for c in OPTIONAL_VALUE_COLUMNS}
    if countries:
        _check_codes(con, "country", countries, f"SELECT DISTINCT {pick['country']} FROM {base} v")
    derived = "v.derived" if "derived" in cols else "FALSE"
    where, params = [], []
    if indicators:
        where.append("v.indicator_code IN (SELECT unnest(?::VARCHAR[]))")
        params.append(indicators)
    if regions:
        where.append("v.region_code IN (SELECT unnest(?::VARCHAR[]))")
        params.append(regions)
    if countries:
        where.append(f"{pick['country']} IN (SELECT unnest(?::VARCHAR[]))")
        params.append(countries)
    query = f"""
        SELECT v.indicator_code, i.name AS indicator_name, i.element, {pick["country"]}::VARCHAR AS country,
               v.region_code, {"coalesce(r.name_en, c.name)" if areas else "r.name_en"} AS region_name,
               {pick["sex"]}::VARCHAR AS sex,
               {pick["classif1"]}::VARCHAR AS classif1, {pick["classif2"]}::VARCHAR AS classif2,
               v.year::INTEGER AS year, v.period::VARCHAR AS period,
               CASE WHEN v.period = 'Y' THEN v.year::VARCHAR
                    WHEN v.period LIKE 'H%' THEN v.year || '-S' || substr(v.period, 2)
                    WHEN v.period LIKE 'Q%' THEN v.year || '-' || v.period
                    WHEN v.period LIKE 'M%' THEN v.year || '-' || substr(v.period, 2)
                    ELSE v.year || '-' || v.period END AS time_period,
               v.value::DOUBLE AS value, v.unit, {pick["obs_status"]}::VARCHAR AS obs_status,
               coalesce({derived}, FALSE)::BOOLEAN AS derived, {pick["method"]}::VARCHAR AS method,
               {pick["source_id"]}::VARCHAR AS source_id, s.title AS source_title,
               {pick["load_id"]}::BIGINT AS load_id, {pick["source_ref"]}::VARCHAR AS source_ref,
               {pick["note"]}::VARCHAR AS note
        FROM {base} v
        LEFT JOIN indicators i ON i.code = v.indicator_code
        LEFT JOIN regions r ON r.code = v.region_code
        {"LEFT JOIN countries c ON c.code = v.region_code" if areas else ""}
        LEFT JOIN sources s ON s.id = {pick["source_id"]}::VARCHAR
        {("WHERE " + " AND ".join(where)) if where else ""}
        ORDER BY v.indicator_code, country, v.region_code, sex, classif1 NULLS FIRST, classif2 NULLS FIRST, v.year,
                 v.period, coalesce({derived}, FALSE), source_id"""
    frame = _frame(con, query, params)
    return frame.select(list(COLUMNS))


def _frame(con: duckdb.DuckDBPyConnection, query: str, params: list) -> pl.DataFrame:
    return con.sql(query, params=params or None).pl()


def table(con: duckdb.DuckDBPyConnection, view: str) -> pl.DataFrame:
    """A whole view as a frame (lists and structs as JSON text, timestamps as naive UTC)."""
    frame = con.sql(f"SELECT * FROM {view}").pl()
    return _flatten(frame)


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            out.append(
                col.map_elements(
                    lambda v: json.dumps(v.to_list() if hasattr(v, "to_list") else v, default=str, ensure_ascii=False),
                    return_dtype=pl.String,
                )
            )
        elif isinstance(dtype, pl.Datetime) and dtype.time_zone:
            out.append(col.dt.convert_time_zone("UTC").dt.replace_time_zone(None))
        elif isinstance(dtype, pl.Decimal):
            out.append(col.cast(pl.Float64))
        else:
            out.append(col)
    return frame.select(out)


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix an apostrophe to every text cell that a spreadsheet would take for a formula.

    Only text columns are touched: a negative number stays a number."""
    text = [n for n, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def vintage(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The current load of every source: id, title, load_id, sha256 (the data's vintage)."""
    return _frame(
        con,
        "SELECT id AS source_id, title, load_id, sha256, reference_date FROM sources "
        "WHERE status = 'current' ORDER BY id",
        [],
    )


def metadata(con: duckdb.DuckDBPyConnection, generated: dt.datetime) -> dict:
    fp = next(iter(con.execute("SELECT value FROM _meta WHERE key = 'fingerprint'").fetchall()), (None,))[0]
    return {
        "generated": generated.isoformat(timespec="seconds"),
        "dwi_version": __version__,
        "build_fingerprint": fp,
        "dataflow": dataflow_ref(),
        "vintage": vintage(con).to_dicts(),
    }


# --- writers: (frame, con, path, meta) -> None -------------------------------------------------------


def write_csv(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, path: Path, meta: dict) -> None:
    neutralise(values).write_csv(path)


def write_parquet(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, path: Path, meta: dict) -> None:
    import pyarrow.parquet as pq

    arrow = neutralise(values).to_arrow()
    arrow = arrow.replace_schema_metadata(
        {**(arrow.schema.metadata or {}), b"dwi": json.dumps(meta, default=str).encode()}
    )
    pq.write_table(arrow, path, compression="zstd")


def json_document(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, meta: dict) -> dict:
    """The JSON export: metadata, lookup tables keyed by code, and one entry per series with its points."""
    values = neutralise(values)
    codes = values["indicator_code"].unique().to_list()
    indicators = neutralise(
        _frame(
            con,
            "SELECT code, name, unit, element, kind, definition, derived, method "
            "FROM indicators WHERE code IN (SELECT unnest(?::VARCHAR[]))",
            [codes],
        )
    )
    regions = neutralise(_frame(con, "SELECT code, name_en, kind FROM regions", []))
    series_keys = ["indicator_code", "region_code", "sex", "unit", "derived", "method", "source_id"]
    series = values.group_by(series_keys, maintain_order=True).agg(
        pl.struct("time_period", "year", "period", "value", "obs_status", "load_id").alias("points")
    )
    return {
        "meta": meta,
        "indicators": {r.pop("code"): r for r in indicators.to_dicts()},
        "regions": {r.pop("code"): r for r in regions.to_dicts()},
        "series": series.to_dicts(),
    }


def write_json(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, path: Path, meta: dict) -> None:
    doc = json_document(values, con, meta)
    doc["meta"] = json.loads(json.dumps(neutralise_dict(doc["meta"]), default=str))
    path.write_text(json.dumps(doc, ensure_ascii=False, default=str, indent=1), encoding="utf-8")


def neutralise_dict(obj):
    """neutralise() for nested metadata (titles of sources in the vintage list)."""
    if isinstance(obj, dict):
        return {k: neutralise_dict(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [neutralise_dict(v) for v in obj]
    if isinstance(obj, str) and obj[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + obj
    return obj


def sdmx_frame(values: pl.DataFrame) -> pl.DataFrame:
    """The values as SDMX-CSV 1.0 columns (dimensions, OBS_VALUE, attributes)."""
    spec = sdmx_spec()
    units = values.select("unit").unique()
    units = units.with_columns(
        pl.col("unit")
        .map_elements(
            lambda u: spec["units"].get(u, {}).get("code") or "".join(ch if ch.isalnum() else "_" for ch in u.upper()),
            return_dtype=pl.String,
        )
        .alias("UNIT_MEASURE"),
        pl.col("unit")
        .map_elements(lambda u: spec["units"].get(u, {}).get("mult", 0), return_dtype=pl.Int64)
        .alias("UNIT_MULT"),
    )
    frame = values.join(units, on="unit", how="left")
    return neutralise(
        frame.select(
            pl.lit(dataflow_ref()).alias("DATAFLOW"),
            pl.col("period").str.slice(0, 1).replace_strict(spec["freq"], default=None).alias("FREQ"),
            pl.col("region_code").alias("REF_AREA"),
            pl.col("indicator_code").alias("INDICATOR"),
            pl.col("sex").replace_strict(spec["sex"], default="_T").alias("SEX"),
            pl.col("classif1").fill_null(spec["not_applicable"]).alias("CLASSIF1"),
            pl.col("classif2").fill_null(spec["not_applicable"]).alias("CLASSIF2"),
            # a dimension: two sources (or a reported and a derived value) of one figure are two series
            pl.when(pl.col("derived"))
            .then(pl.lit("derived/") + pl.col("source_id").fill_null("dwi"))
            .otherwise(pl.col("source_id"))
            .alias("DATA_SOURCE"),
            pl.col("time_period").alias("TIME_PERIOD"),
            pl.col("value").alias("OBS_VALUE"),
            "UNIT_MEASURE",
            "UNIT_MULT",
            pl.col("obs_status")
            .replace(spec.get("obs_status", {}))
            .fill_null(spec["obs_status_default"])
            .alias("OBS_STATUS"),
            pl.when(pl.col("derived"))
            .then(pl.lit("derived: ") + pl.col("method").fill_null(""))
            .when(pl.col("obs_status").is_in(["implied", "corrected"]))
            .then(pl.lit("dwi status ") + pl.col("obs_status") + pl.lit(": ") + pl.col("note").fill_null(""))
            .otherwise(pl.col("note"))
            .alias("COMMENT_OBS"),
        )
    )


def write_sdmx_csv(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, path: Path, meta: dict) -> None:
    sdmx_frame(values).write_csv(path)


def write_xlsx(values: pl.DataFrame, con: duckdb.DuckDBPyConnection, path: Path, meta: dict) -> None:
    from dwi.publish.workbook import write_workbook

    present = views(con)
    tables = {"indicator_values": values}
    tables.update({sheet: table(con, view) for view, sheet in SHEETS.items() if view in present})
    missing = [view for view in SHEETS if view not in present]
    write_workbook(path, tables, meta, COLUMNS, missing)


WRITERS: dict[str, tuple[str, Callable]] = {
    "csv": ("indicator_values.csv", write_csv),
    "parquet": ("indicator_values.parquet", write_parquet),
    "xlsx": ("decent_work.xlsx", write_xlsx),
    "json": ("indicator_values.json", write_json),
    "sdmx-csv": ("indicator_values.sdmx.csv", write_sdmx_csv),
}


def export(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    formats: Iterable[str] = FORMATS,
    indicators: Iterable[str] = (),
    regions: Iterable[str] = (),
    on_done: Callable[[str, Path], None] | None = None,
    countries: Iterable[str] = (),
) -> list[Path]:
    """Write the chosen formats into `out`; return the files written. Each file is written to a temporary
    name and renamed, so a reader never sees half a file."""
    formats = list(formats)
    bad = [f for f in formats if f not in WRITERS]
    if bad:
        raise DwiError(f"--format must be one of {', '.join(FORMATS)}, not '{bad[0]}'")
    values = values_frame(con, indicators, regions, countries)
    meta = metadata(con, dt.datetime.now(dt.UTC))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DwiError(f"cannot create the export folder {out}: {exc.strerror}") from None
    written = []
    for fmt in formats:
        name, writer = WRITERS[fmt]
        path = out / name
        with replacing(path) as tmp:
            writer(values, con, tmp, meta)
        written.append(path)
        if on_done:
            on_done(fmt, path)
    return written
