"""ILOSTAT downloads, in the three kinds ILOSTAT serves: codes only (the bulk files, `<INDICATOR>_A.csv.gz`),
labels only (the website's and the data explorer's default: `ref_area.label`, `sex.label`, ...) and both (a
`<column>.label` beside each code column). As .csv, .csv.gz or ILOSTAT's .xlsx download (one sheet, the same
columns); annual, quarterly or monthly (time 2020, 2020Q1, 2020M01).

Where a column comes as a label only, the label is mapped back to its code with ILOSTAT's dictionaries
(dwi/reference/ilostat/, see the README there). Wording differs between editions ("Sex: Total" in one, "Total"
in another; "-- ILO modelled estimates, Nov. 2023" in one, "May 2024" in the next), so labels are compared
without the "<Dimension>: " prefix and without the edition's date when the full text does not match; a
classification label that stays ambiguous is settled by the indicator's own breakdowns (the AGE in
UNE_DEAP_SEX_AGE_RT). A label that still does not map is kept as written (in place of the code) and
reported in a note; the row is never dropped.

ref_area stays in the `country` dimension (ISO3 or aggregate code); rows for KAZ get region KZ, rows for
any other area get the area code itself as their region. Indicator codes map to dwi codes through
dwi/reference/ilostat_map.csv; codes it does not cover load under their own ILOSTAT code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import polars as pl

from dwi.config import REFERENCE_DIR
from dwi.readers import Identity, Read, slug
from dwi.readers.codes import apply_code_map, merge_indicators, per_distinct, read_code_map, split_time, tidy
from dwi.readers.text import ZIP, CsvFile, Rejected, clean, head_records

CODES = [
    "ref_area",
    "source",
    "indicator",
    "sex",
    "classif1",
    "classif2",
    "time",
    "obs_value",
    "obs_status",
    "note_classif",
    "note_indicator",
    "note_source",
]
PLAIN = ("time", "obs_value")  # columns that have no label twin
REQUIRED = ["ref_area", "indicator", "time", "obs_value"]  # each as a code, a label or both (but time, obs_value)
OPTIONAL = [c for c in CODES if c not in REQUIRED] + [f"{c}.label" for c in CODES if c not in PLAIN]
COLUMNS = [*CODES, *(f"{c}.label" for c in CODES if c not in PLAIN)]
NOTES = ("note_classif", "note_indicator", "note_source")
MAPPED = ("ref_area", "indicator", "sex", "classif1", "classif2", "obs_status")  # labels mapped back to codes
DICTIONARIES = REFERENCE_DIR / "ilostat"
MAP = "ilostat_map.csv"
XLSX_BATCH_ROWS = 100_000
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"


def _text(col: str) -> pl.Expr:
    """The label where the file has one, else the code."""
    return pl.coalesce(pl.col(f"{col}.label"), pl.col(col))


def detect(header: set[str]) -> bool:
    """A header with ILOSTAT's columns (codes, their `.label` twins or both)."""
    return set(REQUIRED) <= {c.removesuffix(".label") for c in header}


def check_header(header: list[str], file: str) -> list[str]:
    """The stripped column names; a column ILOSTAT does not have, or a required one missing (as code and as
    label), rejects the file, naming only what is wrong."""
    columns = [c.strip() for c in header]
    present = {c.removesuffix(".label") for c in columns}
    missing = [
        c if c in PLAIN else f"{c} (or {c}.label)"
        for c in REQUIRED
        if (c not in columns if c in PLAIN else c not in present)
    ]
    extra = [c for c in columns if c not in COLUMNS]
    if missing or extra:
        parts = [f"missing column(s) {', '.join(missing)}"] if missing else []
        if extra:
            parts.append(
                f"column(s) {', '.join(map(repr, extra))} that ILOSTAT does not use (its columns: "
                f"{', '.join(c for c in CODES)}, each as a code, a '.label' or both)"
            )
        raise Rejected(file, "; ".join(parts), "file:columns", (missing or extra)[0].split(" ")[0])
    return columns


def _key(label: pl.Expr) -> pl.Expr:
    """A label as compared: lower case, one kind of apostrophe, single spaces, without the edition's date
    (', Nov. 2023')."""
    return (
        label.str.to_lowercase()
        .str.replace_all("[\u2018\u2019\u02bc`\u00b4]", "'")
        .str.replace_all(rf",?\s*{_MONTHS}\s+\d{{4}}", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def _short(key: pl.Expr) -> pl.Expr:
    """A key without its '<dimension>: ' prefix ('sex: total' -> 'total')."""
    return key.str.replace(r"^[^:]*:\s*", "")


@cache
def dictionary(column: str) -> pl.DataFrame:
    """ILOSTAT's dictionary of a column (code, label, and the label's full and short comparison keys)."""
    frame = pl.read_csv(DICTIONARIES / f"{column}_en.csv", infer_schema=False, encoding="utf8")
    frame = frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns}).select(
        pl.col(column).alias("code"), pl.col(f"{column}.label").alias("label")
    )
    return frame.with_columns(_key(pl.col("label")).alias("full")).with_columns(_short(pl.col("full")).alias("short"))


def _unique(frame: pl.DataFrame, on: str) -> pl.DataFrame:
    """Keys that name exactly one code."""
    return frame.group_by(on).agg(pl.col("code").unique()).filter(pl.col("code").list.len() == 1).explode("code")


def map_labels(labels: pl.DataFrame, column: str) -> pl.DataFrame:
    """`labels` (distinct `label`, and `indicator` for classifications) with the `code` each maps to (null where
    none does): the full text, else the text without prefix or edition date when one code has it, else (for
    classif1/classif2) the one such code of a breakdown the indicator's code names."""
    words = dictionary(column)
    keyed = labels.with_columns(_key(pl.col("label")).alias("full")).with_columns(_short(pl.col("full")).alias("short"))
    by_full = _unique(words, "full").rename({"code": "c_full"})
    by_short = _unique(words, "short").rename({"code": "c_short"})
    out = keyed.join(by_full, on="full", how="left").join(by_short, on="short", how="left")
    out = out.with_columns(pl.coalesce("c_full", "c_short").alias("code"))
    if column.startswith("classif") and "indicator" in out.columns:
        candidates = (
            out.filter(pl.col("code").is_null() & pl.col("indicator").is_not_null())
            .select("label", "indicator", "short")
            .unique()
            .join(words.select("short", pl.col("code").alias("c_family")), on="short")
            .filter(pl.col("indicator").str.contains("_" + pl.col("c_family").str.extract(r"^([A-Z0-9]+)_") + "_"))
            .group_by("label", "indicator")
            .agg(pl.col("c_family").unique())
            .filter(pl.col("c_family").list.len() == 1)
            .explode("c_family")
        )
        out = out.join(candidates, on=["label", "indicator"], how="left", nulls_equal=True).with_columns(
            pl.coalesce("code", "c_family").alias("code")
        )
    return out.select(*labels.columns, "code")


FREQUENCY = {"": "A", "Q": "Q", "M": "M"}  # from the time code: 2011, 2011Q1, 2011M01


def identify(path: Path, options: dict) -> Identity | None:
    """ILOSTAT's dataset: the indicator id and the frequency of the first observation ('UNE_2EAP_SEX_AGE_RT',
    annual), the same for every download of it whatever the file's name or date stamp. The indicator's label
    stands in for a file without the code column. None when the head holds no observation."""
    with open(path, "rb") as fh:
        workbook = fh.read(4) == ZIP
    if workbook:  # ILOSTAT's .xlsx: the first two rows of the first sheet
        from dwi.readers.xlsx import first_rows  # noqa: PLC0415

        records = first_rows(path, 2)
    else:
        records = head_records(path)
    if len(records) < 2:
        return None
    header = [c.strip() for c in records[0]]
    row = dict(zip(header, records[1], strict=False))
    indicator = (row.get("indicator") or "").strip()
    label = (row.get("indicator.label") or "").strip()
    if not indicator and label:  # labels only: the code from the dictionary, so every kind of download of a
        indicator = map_labels(pl.DataFrame({"label": [label]}), "indicator")["code"][0] or label  # dataset is one
    time = re.match(r"^\s*\d{4}([QM]?)", row.get("time") or row.get("time.label") or "")
    if not indicator or time is None:
        return None
    freq = FREQUENCY[time.group(1)]
    words = {"A": "annual", "Q": "quarterly", "M": "monthly"}[freq]
    return Identity(f"ilostat:{indicator}:{freq}", slug(f"{indicator}_{freq}"), f"ILOSTAT {indicator} ({words})")


def read(path: Path, file: str, options: dict) -> Read:
    with open(path, "rb") as fh:
        workbook = fh.read(4) == ZIP
    if workbook:
        frames, notes = _sheet_batches(path, file), []
    else:
        csv_file = CsvFile(path, file)
        columns = check_header(csv_file.header, file)
        frames, notes = csv_file.batches(columns), csv_file.notes
    result = Read(iter(()), notes)
    result.batches = _batches(frames, file, result)
    return result


def _sheet_batches(path: Path, file: str) -> Iterator[pl.DataFrame]:
    """ILOSTAT's .xlsx download: the first sheet, a header row then one row per observation, as strings."""
    from dwi.readers.xlsx import read_sheet  # noqa: PLC0415  (xlsx pulls in calamine only when needed)

    grid, _, _ = read_sheet(path, file, 0)
    if not grid.height:
        raise Rejected(file, "the sheet is empty; expected a header row and data rows", "file:empty")
    header = [("" if v is None else str(v)) for v in grid.row(0)]
    while header and not header[-1].strip():
        header.pop()
    columns = check_header(header, file)
    grid = grid.select(grid.columns[: len(columns)]).slice(1)
    grid.columns = columns
    grid = grid.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    grid = grid.filter(~pl.all_horizontal(pl.col(columns).is_null()))  # blank rows under the table
    for start in range(0, grid.height, XLSX_BATCH_ROWS):
        yield grid.slice(start, XLSX_BATCH_ROWS).select("_row", *columns)


def _batches(frames: Iterator[pl.DataFrame], file: str, result: Read) -> Iterator[pl.DataFrame]:
    """Rows without obs_value are missing values, not observations: counted in a note, not read."""
    code_map, empty, empty_rows, kept, rows = read_code_map(MAP), 0, [], 0, 0
    unmapped: dict[tuple[str, str], list[int]] = {}  # (column, label) -> [rows, first row]
    for frame in frames:
        frame = clean(frame, [c for c in COLUMNS if c != "obs_value"])
        rows += frame.height
        missing = frame.filter(pl.col("obs_value").is_null())["_row"]
        empty += missing.len()
        empty_rows += missing.head(10 - len(empty_rows)).to_list()
        frame = frame.filter(pl.col("obs_value").is_not_null())
        if frame.height:
            kept += frame.height
            frame = _codes_from_labels(frame, unmapped)
            out, fresh = from_strings(frame, file, code_map)
            result.indicators = merge_indicators(result.indicators, fresh)
            yield out
    for column in MAPPED:
        labels = [(label, n, first) for (c, label), (n, first) in unmapped.items() if c == column]
        shown = "; ".join(f"{label!r} ({n} row(s), first row {first})" for label, n, first in labels[:5])
        more = f"; and {len(labels) - 5} more" if len(labels) > 5 else ""
        if labels:
            result.notes.append(
                f"{len(labels)} {column} label(s) not in ILOSTAT's dictionary (dwi/reference/ilostat/{column}_en.csv), "
                f"with no code in the file, kept as written in {column}: {shown}{more}"
            )
    if empty:
        result.notes.append(
            f"{empty} row(s) have no obs_value (rows {', '.join(map(str, empty_rows))}"
            f"{' ...' if empty > 10 else ''}); empty cells are missing values, not observations"
        )
    if not rows:
        raise Rejected(file, "header only, no data rows", "file:no_rows")
    if not kept:
        raise Rejected(file, "no row has an obs_value; nothing to load", "file:no_rows", "obs_value")


def _codes_from_labels(frame: pl.DataFrame, unmapped: dict[tuple[str, str], list[int]]) -> pl.DataFrame:
    """Codes for the columns the file gives as labels only (indicator first: classifications use it). A label
    without a code is kept as written and counted in `unmapped`."""
    for column in MAPPED:
        if frame[column].null_count() < frame.height or frame[f"{column}.label"].null_count() == frame.height:
            continue  # the file has the codes (or neither)
        on = ["label", "indicator"] if column.startswith("classif") else ["label"]
        labelled = frame.select(pl.col(f"{column}.label").alias("label"), "indicator", "_row")
        distinct = labelled.drop_nulls("label").group_by(on).agg(pl.len().alias("n"), pl.col("_row").min())
        mapped = map_labels(distinct.select(on), column)
        missed = distinct.join(mapped, on=on, nulls_equal=True).filter(pl.col("code").is_null())
        for row in missed.iter_rows(named=True):
            seen = unmapped.setdefault((column, row["label"]), [0, row["_row"]])
            seen[0] += row["n"]
        frame = frame.with_columns(
            labelled.select(on)
            .join(mapped, on=on, how="left", nulls_equal=True, maintain_order="left")
            .select(pl.coalesce("code", "label").alias(column))
        )
    return frame


def from_strings(frame: pl.DataFrame, file: str, code_map: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows as read (strings + `_row`, every one with an obs_value) to the tidy layout, and the codes the
    mapping table does not cover (registered as indicators of their own)."""
    year, period = split_time(pl.col("time"))
    code = pl.col("ref_area").str.contains(r"^[A-Za-z0-9]{3}$")
    area = pl.when(code).then(pl.col("ref_area").str.to_uppercase()).otherwise(pl.col("ref_area"))  # a label kept
    note = pl.concat_str(
        [pl.when(_text(n).is_not_null()).then(pl.concat_str(pl.lit(f"{n}: "), _text(n))) for n in NOTES],
        separator="; ",
        ignore_nulls=True,
    )
    # Codes, periods and sexes are few: parse them once per distinct value (per_distinct), not per row.
    frame = per_distinct(
        frame.with_columns(pl.col("indicator").alias("source_code"), pl.col("indicator.label").alias("source_label")),
        ["ref_area", "sex", "time"],
        country=area,
        region=area,
        sex=pl.col("sex").fill_null("SEX_T").str.replace(r"^SEX_", ""),
        year=year,
        period=period,
    ).with_columns(
        pl.col("obs_value").alias("value"),
        pl.concat_str(
            pl.lit("ILOSTAT "),
            pl.col("indicator"),
            pl.lit(", source "),
            _text("source").fill_null("not stated"),
            pl.lit(", "),
            pl.col("ref_area"),
            pl.lit(" "),
            pl.col("time"),
        ).alias("source_ref"),
        pl.when(note != "").then(note).alias("note"),
    )
    mapped, fresh = apply_code_map(frame, code_map, file, MAP, ilostat=True)
    return tidy(mapped), fresh
