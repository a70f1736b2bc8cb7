"""UNESCO Institute for Statistics (UIS) downloads, in their two shapes.

- UIS.Stat (.Stat) export: `"EDULIT_IND","Indicator","LOCATION","Country","TIME","Time","Value","Flag Codes",
  "Flags"` (the first column is the dataset's indicator, `<DATASET>_IND`). A flag is a symbol (`‡`) with its
  words (`UIS Estimation`); LOCATION is ISO alpha-3, or a number for a UIS region (`40535`).
- Bulk data download service (BDDS) `<DATASET>_DATA_NATIONAL.csv` / `_DATA_REGIONAL.csv`: `INDICATOR_ID,
  COUNTRY_ID (or REGION_ID),YEAR,VALUE,MAGNITUDE,QUALIFIER` (upper or lower case). MAGNITUDE NA (not
  applicable, printed as 0), SUPP (suppressed) and INCLUDED (in another figure) carry no value; NIL is a real
  zero; LOWREL is low reliability; QUALIFIER NAT_EST / UIS_EST are estimates.

One row is one observation; a row without a value (or whose value stands for none, MAGNITUDE NA) is a missing
value, counted, not loaded. The status comes from the agency's words: an estimate E, low reliability U,
provisional P; the flag, MAGNITUDE and QUALIFIER are kept in `note`. The indicator code is the dataset with
UIS's indicator id (`EDULIT_DS.PTRHC_2`); areas map as in SDMX-CSV (dwi/readers/sdmx.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug
from dwi.readers.sdmx import missing_note, observations
from dwi.readers.text import CsvFile, Rejected, head_records

STAT = {"LOCATION", "TIME", "Value", "Flag Codes", "Flags"}
BULK = {"INDICATOR_ID", "YEAR", "VALUE", "MAGNITUDE", "QUALIFIER"}
BULK_NAME = re.compile(r"^(.+?)_DATA_(?:NATIONAL|REGIONAL)", re.IGNORECASE)
STAT_NAME = re.compile(r"^(.+?_DS)_", re.IGNORECASE)


def shape(columns: list[str]) -> str | None:
    cols = {c.strip() for c in columns}
    if STAT <= cols and any(c.endswith("_IND") for c in cols):
        return "stat"
    upper = {c.upper() for c in cols}
    if BULK <= upper and upper & {"COUNTRY_ID", "REGION_ID"}:
        return "bulk"
    return None


def detect(header: set[str]) -> bool:
    return shape(list(header)) is not None


def dataset(columns: list[str], file: str) -> str:
    """The dataset: `EDULIT_DS` from a .Stat export's `EDULIT_IND` column; a bulk file's from its name
    (`SDG_DATA_NATIONAL.csv` -> SDG; the content does not name it)."""
    ind = next((c for c in columns if c.endswith("_IND")), None)
    if shape(columns) == "stat" and ind:
        return ind.removesuffix("_IND") + "_DS"
    match = BULK_NAME.match(Path(file).name)
    return (match.group(1) if match else Path(file).name.split(".")[0]).upper()


def identify(path: Path, options: dict) -> Identity | None:
    records = head_records(path)
    if not records or shape(records[0]) is None:
        return None
    code = dataset([c.strip() for c in records[0]], str(options.get("_relpath") or path.name))
    return Identity(f"uis:{code}", slug(code), f"UNESCO UIS {code}")


def status(words: pl.Expr) -> pl.Expr:
    """The SDMX status the agency's words describe (estimate E, low reliability U, provisional P), else none."""
    w = words.str.to_lowercase()
    return (
        pl.when(w.str.contains("estimat|_est"))
        .then(pl.lit("E"))
        .when(w.str.contains("lowrel|low reliab|unreliab"))
        .then(pl.lit("U"))
        .when(w.str.contains("provisional"))
        .then(pl.lit("P"))
    )


def read(path: Path, file: str, options: dict) -> Read:
    csv_file = CsvFile(path, file)
    columns = [c.strip() for c in csv_file.header]
    kind = shape(columns)
    if kind is None:
        csv_file.close()
        raise Rejected(
            file,
            "expected a UIS.Stat export (LOCATION, TIME, Value, Flag Codes, Flags and an <X>_IND column) or a UIS "
            "bulk file (INDICATOR_ID, COUNTRY_ID or REGION_ID, YEAR, VALUE, MAGNITUDE, QUALIFIER)",
            "file:columns",
        )
    code = dataset(columns, file)
    result = Read(iter(()), csv_file.notes)
    if kind == "bulk":
        result.notes.append(f"dataset {code} taken from the file name (a UIS bulk file does not name it)")
    result.batches = _batches(csv_file.batches(columns), columns, kind, code, file, result)
    return result


def _batches(
    frames: Iterator[pl.DataFrame], columns: list[str], kind: str, code: str, file: str, result: Read
) -> Iterator[pl.DataFrame]:
    name = {c.upper(): c for c in columns}
    if kind == "stat":
        ind, area, time, value = next(c for c in columns if c.endswith("_IND")), "LOCATION", "TIME", "Value"
        label, notes = columns[columns.index(ind) + 1], ["Flag Codes", "Flags"]
        words = pl.col("Flags").fill_null("")
    else:
        ind, time, value = name["INDICATOR_ID"], name["YEAR"], name["VALUE"]
        area = name.get("COUNTRY_ID") or name["REGION_ID"]
        label, notes = None, [name["MAGNITUDE"], name["QUALIFIER"]]
        words = pl.concat_str([pl.col(c).fill_null("") for c in notes], separator=" ")
    roles = {
        "area": [area],
        "sex": [],
        "what": [ind],
        "breakdown": [],
        "unit": [],
        "mult": [],
        "notes": notes,
        "dims": [ind, area],
    }
    empty, kept = 0, 0
    for frame in frames:
        cells = [c for c in frame.columns if c != "_row"]
        frame = frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in cells)
        missing = pl.col(value).is_null() | (pl.col(value) == "..")
        if kind == "bulk":  # NA: 'not applicable', printed as 0; not a value
            missing = missing | (pl.col(name["MAGNITUDE"]).fill_null("").str.to_uppercase() == "NA")
        empty += frame.filter(missing).height
        frame = frame.filter(~missing)
        if not frame.height:
            continue
        kept += frame.height
        frame = frame.with_columns(
            pl.col(value).alias("value"),
            pl.col(time).alias("time"),
            status(words).alias("flag"),
            *([pl.col(label).alias("_label")] if label else []),
        )
        yield observations(frame, roles, pl.lit(f"UIS:{code}"), file, result, eurostat_flags=False)
    if empty:
        result.notes.append(missing_note(empty, "row(s)"))
    if not kept:
        raise Rejected(file, "no row has a value; nothing to load", "file:no_rows", value)
