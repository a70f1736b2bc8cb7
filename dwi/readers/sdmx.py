"""SDMX-CSV as the agencies serve it (sdmx.ilo.org, Eurostat, the OECD Data Explorer), and what the readers of
other SDMX-shaped downloads (Eurostat TSV, UNESCO UIS) share: areas to country codes, SDMX sex and time
codes, observation flags, dimensions to indicator code and breakdowns.

SDMX-CSV 1.0 starts `DATAFLOW,<dimensions>,TIME_PERIOD,OBS_VALUE,<attributes>` (Eurostat adds `LAST UPDATE`
after DATAFLOW); 2.0 starts `STRUCTURE,STRUCTURE_ID,ACTION,...`, and with labels=both names its columns
`CODE:Label` and its cells `CODE: Label`; with labels=name (Eurostat's data browser) it adds STRUCTURE_NAME and,
after each component's column, a column of its labels named by the component's name (`geo,Geopolitical entity
(reporting)`): those label columns are the agency's wording, not data. One row is one observation.

The maintained SDMX library for Python, sdmx1, reads SDMX-CSV 2.x only, needs the data structure definition
(which a downloaded file does not carry) and builds a Python object per observation; the agencies serve 1.0
by default. So the file is read here with polars, in batches, like every other CSV.

How a row becomes an observation:
- the area dimension (REF_AREA, geo, LOCATION, COUNTRY_ID, ...) gives `country` (ISO 3166-1 alpha-3; Eurostat's
  alpha-2 codes, EL and UK included, are converted; a NUTS region keeps its code as `region`, its country's
  code as `country`; an aggregate such as EU27_2020 or OECD is kept as an area of its own);
- SEX gives T/M/F (`SEX_T`, `_T` and `_Z`, not applicable, are totals); TIME_PERIOD gives year and period;
- the indicator code is the dataflow's id with the values of the dimensions that say what is measured
  (MEASURE, INDICATOR, unit, na_item, indic_*, ...); ILO dataflows use ILOSTAT's indicator id (the
  dataflow id without `DF_`), so dwi/reference/ilostat_map.csv applies to them as to the bulk files;
- every other dimension is a breakdown: the first is `classif1`, the others together `classif2`
  (`AGE_Y15-74`; ILO codes such as `AGE_YTHADULT_YGE15` are kept as they are);
- OBS_STATUS (or Eurostat's OBS_FLAG) is `obs_status`; UNIT_MULT is part of the unit (`PS x10^3`: the value
  stays as reported); the other attributes (OBS_COMMENT, CONF_STATUS, DECIMALS, ...) are kept in `note`;
- a row without OBS_VALUE is a missing value, not an observation (counted in a note).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import polars as pl
import pycountry

from dwi.readers import Identity, Read, slug
from dwi.readers.codes import apply_code_map, label_unit, merge_indicators, per_distinct, read_code_map, tidy
from dwi.readers.text import CsvFile, Rejected, head_records

TIME, VALUE = "TIME_PERIOD", "OBS_VALUE"
PREFIX = {"DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "LAST UPDATE", "KEY"}
LABEL = "_label_of_"  # the name given to a labels=name column (the column after it names the component)
AREA = ("REF_AREA", "GEO", "LOCATION", "COUNTRY", "COU", "COUNTRY_ID", "REGION_ID")
SEX = ("SEX",)
FREQ = ("FREQ", "FREQUENCY")
# dimensions that say what is measured (part of the indicator code), not how it is broken down
WHAT = {
    "MEASURE",
    "INDICATOR",
    "VARIABLE",
    "SUBJECT",
    "NA_ITEM",
    "UNIT",
    "UNIT_MEASURE",
    "TRANSFORMATION",
    "ADJUSTMENT",
    "S_ADJ",
    "CURRENCY",
    "PRICE_BASE",
}
UNIT_DIMS = ("UNIT_MEASURE", "UNIT")
STATUS_ATTRS = ("OBS_STATUS", "OBS_FLAG")
# Eurostat's flags (a letter, several together, after the value) as SDMX observation status codes
EUROSTAT_FLAGS = {
    "b": ("B", "break in time series"),
    "c": ("C", "confidential"),
    "d": ("D", "definition differs"),
    "e": ("E", "estimated"),
    "f": ("F", "forecast"),
    "i": ("I", "value imputed"),
    "m": ("M", "missing value; data cannot exist"),
    "n": ("N", "not significant"),
    "p": ("P", "provisional"),
    "r": (None, "revised"),
    "s": ("E", "Eurostat estimate"),
    "u": ("U", "low reliability"),
    "z": ("M", "not applicable"),
}
NUTS = r"^([A-Z]{2})([0-9A-Z]{1,3})$"
PERIOD = r"^(\d{4})(?:-?([QSHM])-?(\d{1,2})|-(\d{2}))?$"
MAP = "ilostat_map.csv"


@cache
def alpha2() -> dict[str, str]:
    """ISO 3166-1 alpha-2 -> alpha-3, with Eurostat's own EL (Greece), UK and XK (Kosovo, as the World Bank)."""
    codes = {c.alpha_2: c.alpha_3 for c in pycountry.countries}
    return codes | {"EL": "GRC", "UK": "GBR", "XK": "XKX"}


@cache
def alpha3() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.countries) | {"XKX"}


def areas(code: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(country, region) of an area code: ISO alpha-3 as is; alpha-2 to alpha-3 (region = the alpha-3 code);
    a NUTS code (country prefix + 1-3 characters) keeps its code as region; anything else (EU27_2020, OECD,
    EA20, a UIS region) is an area of its own, as the agency codes it."""
    code = code.str.strip_chars().str.to_uppercase()
    iso2 = code.replace_strict(alpha2(), default=None)
    nuts = code.str.extract(NUTS, 1).replace_strict(alpha2(), default=None)
    is_iso3 = code.is_in(list(alpha3()))
    country = pl.when(is_iso3).then(code).otherwise(pl.coalesce(iso2, nuts, code))
    region = pl.when(is_iso3 | iso2.is_not_null()).then(country).otherwise(code)
    return country, region


def sex(code: pl.Expr) -> pl.Expr:
    """SDMX / ILOSTAT sex codes to T, M, F (`_T`, `SEX_T`, `_Z` not applicable and no sex column: T); other
    codes are kept, so the rule on sex names them."""
    plain = code.str.strip_chars().str.replace(r"^(SEX_|_)", "")
    return plain.replace({"Z": "T"}).fill_null("T")


def split_period(time: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """TIME_PERIOD -> (year, period): 2020 Y; 2020-Q1 / 2020Q1 Q1; 2020-S1 / 2020-H1 H1; 2020-01 / 2020M01 /
    2020-M01 M01. Anything else (weeks, days, ranges) keeps its text as year with period '?', for the rules
    to name."""
    time = time.str.strip_chars()
    year, kind = time.str.extract(PERIOD, 1), time.str.extract(PERIOD, 2)
    num = pl.coalesce(time.str.extract(PERIOD, 3), time.str.extract(PERIOD, 4)).cast(pl.Int32, strict=False)
    period = (
        pl.when(year.is_null())
        .then(pl.lit("?"))
        .when(num.is_null())
        .then(pl.lit("Y"))
        .when(kind == "Q")
        .then(pl.concat_str(pl.lit("Q"), num.cast(pl.String)))
        .when(kind.is_in(["S", "H"]))
        .then(pl.concat_str(pl.lit("H"), num.cast(pl.String)))
        .otherwise(pl.concat_str(pl.lit("M"), num.cast(pl.String).str.zfill(2)))
    )
    return pl.coalesce(year, time), period


def flag_status(flags: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Eurostat flags ('b', 'bep', 'p') -> (obs_status of the first flag that has one, a note naming every flag).
    A letter Eurostat does not define is kept (upper case) as the status, for the rule on obs_status to name."""
    letters = flags.str.strip_chars().str.split("")
    codes = {k: v[0] for k, v in EUROSTAT_FLAGS.items()}
    status = letters.list.eval(pl.element().replace_strict(codes, default=pl.element().str.to_uppercase()))
    named = letters.list.eval(
        pl.concat_str(
            pl.element(),
            pl.lit(" ("),
            pl.element().replace_strict({k: v[1] for k, v in EUROSTAT_FLAGS.items()}, default=pl.lit("unknown flag")),
            pl.lit(")"),
        )
    )
    has = flags.str.strip_chars().str.len_chars() > 0
    return (
        pl.when(has).then(status.list.drop_nulls().list.first()),
        pl.when(has).then(pl.concat_str(pl.lit("flags: "), named.list.join(", "))),
    )


def flow_parts(flow: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """'OECD.SDD.TPS:DSD_LFS@DF_IALFS_INDIC(1.0)' (or 2.0's 'AGENCY:ID(VERSION): Name') -> (agency, id)."""
    bare = flow.str.replace(r"\(.*$", "").str.replace(r":\s.*$", "")
    agency = pl.when(bare.str.contains(":")).then(bare.str.extract(r"^([^:]+):", 1))
    return agency, bare.str.replace(r"^[^:]*:", "")


def classify(columns: list[str]) -> dict[str, list[str]]:
    """The roles of an SDMX-shaped file's columns: area, sex, time, freq, what (part of the indicator code),
    breakdown (classif1/classif2), unit, value, status and the other attributes (kept as a note)."""
    upper = {c: c.upper() for c in columns}
    if TIME not in upper.values() or VALUE not in upper.values():
        raise ValueError("no TIME_PERIOD / OBS_VALUE")
    t = [u for u in upper.values()].index(TIME)
    v = [u for u in upper.values()].index(VALUE)
    dims = [c for c in columns[:t] if upper[c] not in PREFIX]
    attrs = [c for i, c in enumerate(columns) if i > v and c != TIME]
    roles: dict[str, list[str]] = {k: [] for k in ("area", "sex", "freq", "what", "breakdown", "unit")}
    for c in dims:
        u = upper[c]
        role = (
            "area"
            if u in AREA and not roles["area"]
            else "sex"
            if u in SEX
            else "freq"
            if u in FREQ
            else "what"
            if u in WHAT or u.startswith("INDIC")
            else "breakdown"
        )
        roles[role].append(c)
    roles["dims"] = dims
    roles["unit"] = [c for c in dims + attrs if upper[c] in UNIT_DIMS][:1]
    roles["status"] = [c for c in attrs if upper[c] in STATUS_ATTRS][:1]
    roles["mult"] = [c for c in attrs if upper[c] == "UNIT_MULT"]
    roles["notes"] = [c for c in attrs if c not in roles["unit"] + roles["status"] + roles["mult"]]
    return roles


def breakdown(col: str) -> pl.Expr:
    """A breakdown dimension's value as a classification code: `AGE_Y15-74` (ILO's `AGE_YTHADULT_YGE15` as is)."""
    prefix = re.sub(r"[^A-Z0-9]+", "_", col.upper()) + "_"
    value = pl.col(col).str.strip_chars()
    return pl.when(value.str.starts_with(prefix)).then(value).otherwise(pl.concat_str(pl.lit(prefix), value))


def observations(
    frame: pl.DataFrame, roles: dict[str, list[str]], flow: pl.Expr, file: str, result: Read, eurostat_flags: bool
) -> pl.DataFrame:
    """Rows of an SDMX-shaped file (one observation each, strings, `value` and `flag` set, `_row`) in the tidy
    layout; registers the indicators no mapping table covers on `result`."""
    agency, flow_id = flow_parts(flow)
    what = [pl.col(c).str.strip_chars() for c in roles["what"]]
    ilo = agency == "ILO"
    code = pl.when(ilo).then(flow_id.str.replace(r"^DF_", "")).otherwise(pl.concat_str([flow_id, *what], separator="."))
    parts = [breakdown(c) for c in roles["breakdown"]]
    unit = pl.col(roles["unit"][0]).str.strip_chars() if roles["unit"] else pl.lit(None, pl.String)
    if roles["mult"]:
        mult = pl.col(roles["mult"][0]).str.strip_chars()
        unit = (
            pl.when(mult.is_null() | (mult == "0"))
            .then(unit)
            .otherwise(pl.concat_str(unit.fill_null("units"), pl.lit(" x10^"), mult))
        )
    if eurostat_flags:
        status, flag_note = flag_status(pl.col("flag").fill_null(""))
    else:
        status, flag_note = pl.col("flag").str.strip_chars().str.to_uppercase(), pl.lit(None, pl.String)
    notes = [
        pl.when(pl.col(c).str.strip_chars().fill_null("") != "").then(pl.concat_str(pl.lit(f"{c}: "), pl.col(c)))
        for c in roles["notes"]
    ]
    area = pl.col(roles["area"][0]) if roles["area"] else pl.lit(None, pl.String)
    country, region = areas(area)
    year, period = split_period(pl.col("time"))
    key = roles["dims"]
    frame = frame.with_columns(
        code.alias("source_code"),
        (pl.col("_label") if "_label" in frame.columns else pl.lit(None, pl.String)).alias("source_label"),
        (parts[0] if parts else pl.lit(None, pl.String)).alias("classif1"),
        (pl.concat_str(parts[1:], separator=";") if len(parts) > 1 else pl.lit(None, pl.String)).alias("classif2"),
        pl.coalesce([unit, *([label_unit(pl.col("_label"))] if "_label" in frame.columns else [])]).alias(
            "source_unit"
        ),
        pl.concat_str(
            [flow, pl.lit(" "), pl.concat_str([pl.col(c) for c in key], separator="."), pl.lit(" "), pl.col("time")]
        ).alias("source_ref"),
        pl.concat_str([flag_note, *notes], separator="; ", ignore_nulls=True).replace("", None).alias("note"),
        status.alias("obs_status"),
    )
    frame = per_distinct(
        frame,
        [*roles["area"], *roles["sex"], "time"],
        country=country,
        region=region,
        sex=sex(pl.col(roles["sex"][0])) if roles["sex"] else pl.lit("T"),
        year=year,
        period=period,
    )
    code_map = read_code_map(MAP)
    mapped, fresh = apply_code_map(frame, code_map, file, MAP, ilostat=False)
    units = mapped.group_by("source_code", maintain_order=True).agg(pl.col("source_unit").drop_nulls().first())
    own = pl.col("indicator_code") == pl.col("source_code")
    mapped = mapped.with_columns(
        pl.when(own).then(pl.col("source_unit").fill_null("as in source")).otherwise("unit").alias("unit")
    )
    fresh = (
        fresh.join(units.rename({"source_code": "code"}), on="code", how="left")
        .with_columns(pl.coalesce("source_unit", pl.lit("as in source")).alias("unit"))
        .drop("source_unit")
    )
    result.indicators = merge_indicators(result.indicators, fresh)
    return tidy(mapped)


def missing_note(n: int, what: str) -> str:
    return f"{n} {what} without a value are missing values, not observations"


def detect(columns: set[str]) -> bool:
    """An SDMX-CSV header: TIME_PERIOD and OBS_VALUE with DATAFLOW (1.0) or STRUCTURE_ID (2.0) (labels=both
    headers name columns 'CODE:Label')."""
    codes = {c.split(":")[0].strip() for c in columns}
    return {TIME, VALUE} <= codes and bool({"DATAFLOW", "STRUCTURE_ID"} & codes)


def identify(path: Path, options: dict) -> Identity | None:
    """The dataflow of an SDMX-CSV file ('AGENCY:ID(VERSION)', from DATAFLOW or STRUCTURE_ID of its first row)."""
    records = head_records(path)
    if len(records) < 2:
        return None
    names = [c.split(":")[0].strip() for c in records[0]]
    col = next((names.index(c) for c in ("STRUCTURE_ID", "DATAFLOW") if c in names), None)
    if col is None or len(records[1]) <= col or not records[1][col].strip():
        return None
    flow = re.sub(r":\s.*$", "", records[1][col]).strip()  # 2.0 with labels: 'ESTAT:X(1.0): Name'
    return Identity(f"sdmx:{flow}", slug(re.sub(r"\(.*$", "", flow).split(":")[-1]), f"SDMX dataflow {flow}")


def label_columns(columns: list[str]) -> list[str]:
    """`columns` with those of SDMX-CSV 2.0's labels=name renamed `_label_of_<component>`: with STRUCTURE_NAME in
    the header, the columns after the STRUCTURE.../ACTION prefix come in pairs, a component's codes then its
    labels. Unchanged when the pairs do not put TIME_PERIOD and OBS_VALUE on code columns."""
    if "STRUCTURE_NAME" not in columns:
        return columns
    start = max(i for i, c in enumerate(columns) if c in PREFIX) + 1
    codes = columns[start::2]
    if TIME not in codes or VALUE not in codes:
        return columns
    return [f"{LABEL}{columns[i - 1]}" if i >= start and (i - start) % 2 else c for i, c in enumerate(columns)]


def read(path: Path, file: str, options: dict) -> Read:
    csv_file = CsvFile(path, file)
    columns = label_columns([c.split(":")[0].strip() for c in csv_file.header])
    try:
        roles = classify([c for c in columns if not c.startswith(LABEL)])
    except ValueError:
        csv_file.close()
        raise Rejected(
            file, "no TIME_PERIOD and OBS_VALUE columns; expected an SDMX-CSV file", "file:columns"
        ) from None
    flow_col = "STRUCTURE_ID" if "STRUCTURE_ID" in columns else "DATAFLOW" if "DATAFLOW" in columns else None
    if flow_col is None:
        csv_file.close()
        raise Rejected(file, "no DATAFLOW or STRUCTURE_ID column; expected an SDMX-CSV file", "file:columns")
    labelled = any(":" in c for c in csv_file.header)
    result = Read(iter(()), csv_file.notes)
    result.batches = _batches(csv_file.batches(columns), columns, roles, flow_col, labelled, file, result)
    return result


def _batches(
    frames: Iterator[pl.DataFrame],
    columns: list[str],
    roles: dict[str, list[str]],
    flow_col: str,
    labelled: bool,
    file: str,
    result: Read,
) -> Iterator[pl.DataFrame]:
    """One observation per row with an OBS_VALUE; rows without one (and 2.0's ACTION D, deletions) are counted."""
    time_col, value_col = (
        columns[[c.upper() for c in columns].index(TIME)],
        columns[[c.upper() for c in columns].index(VALUE)],
    )
    status = roles["status"][0] if roles["status"] else None
    eurostat = status is not None and status.upper() == "OBS_FLAG"
    empty, deleted, kept = 0, 0, 0
    for frame in frames:
        frame = frame.drop([c for c in frame.columns if c.startswith(LABEL)])
        if "STRUCTURE_NAME" in frame.columns:  # the dataflow's name: the indicator's name where none is registered
            frame = frame.rename({"STRUCTURE_NAME": "_label"})
        cells = [c for c in frame.columns if c != "_row"]
        frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in cells)
        if labelled:  # labels=both: 'A: Annual' -> 'A' (the code; the label is the agency's wording)
            frame = frame.with_columns(
                pl.col(c).str.replace(r":\s.*$", "") for c in cells if c not in (time_col, value_col, flow_col)
            )
        if "ACTION" in frame.columns:
            gone = pl.col("ACTION").fill_null("") == "D"
            deleted += frame.filter(gone).height
            frame = frame.filter(~gone)
        missing = pl.col(value_col).is_null()
        empty += frame.filter(missing).height
        frame = frame.filter(~missing)
        if not frame.height:
            continue
        kept += frame.height
        frame = frame.with_columns(
            pl.col(value_col).alias("value"),
            pl.col(time_col).alias("time"),
            (pl.col(status) if status else pl.lit(None, pl.String)).alias("flag"),
        )
        yield observations(frame, roles, pl.col(flow_col), file, result, eurostat)
    if deleted:
        result.notes.append(f"{deleted} row(s) with ACTION D (a deletion) are not observations")
    if empty:
        result.notes.append(missing_note(empty, "row(s)"))
    if not kept:
        raise Rejected(file, "no row has an OBS_VALUE; nothing to load", "file:no_rows", "OBS_VALUE")
