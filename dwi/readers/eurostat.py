"""Eurostat TSV (the bulk download, `estat_<dataset>.tsv.gz`, and the older `<dataset>.tsv.gz`).

The first column holds the series key, its dimensions joined by commas and named in the header
(`freq,unit,sex,age,geo\\TIME_PERIOD`, older files `unit,sex,age,geo\\time`); then one tab-separated column per
period ('2020 ', '2020Q1 ', '2020-01 '). A cell is a number with Eurostat's flags after a space ('18.2 b',
'7.1 bep'), ':' for a missing value, possibly flagged (': c' confidential, ': z' not applicable).

Each cell with a number is one observation (a bad cell is quarantined alone, the row's other periods load);
':' cells are missing values, not observations, counted in a note with their flags. Flags become the SDMX
observation status (b -> B, e -> E, p -> P, u -> U, ...; see dwi/readers/sdmx.py) and are named in the note.
The file does not name its dataset: the code comes from the file name (`estat_lfsa_urgan.tsv.gz` ->
LFSA_URGAN, Eurostat's dataflow id, as in its SDMX-CSV), and the rest is read as SDMX-CSV is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug
from dwi.readers.sdmx import TIME, VALUE, classify, missing_note, observations
from dwi.readers.text import CsvFile, Rejected

FIRST = re.compile(r"^([^\t]*)\\(TIME_PERIOD|time)\s*\t", re.IGNORECASE)
NAME = re.compile(r"^(?:estat_)?(.+?)(?:__custom_\d+)?(?:_(?:tabular|linear))?(?:\.tsv)?(?:\.gz)?$", re.IGNORECASE)


def detect(lines: list[str]) -> bool:
    return bool(lines) and FIRST.match(lines[0]) is not None


def dataset(file: str) -> str:
    """Eurostat's dataset code from a download's file name ('raw/estat_lfsa_urgan.tsv.gz' -> 'LFSA_URGAN')."""
    match = NAME.match(Path(file).name)
    return (match.group(1) if match else Path(file).stem).upper()


def identify(path: Path, options: dict) -> Identity | None:
    """The dataset: its code from the file name (the content does not name it), e.g. 'eurostat:LFSA_URGAN'."""
    code = options.get("dataset") or dataset(str(options.get("_relpath") or path.name))
    return Identity(f"eurostat:{code}", slug(code), f"Eurostat {code}")


def read(path: Path, file: str, options: dict) -> Read:
    csv_file = CsvFile(path, file, separator="\t")
    first = FIRST.match(csv_file.header_line)
    if first is None:
        csv_file.close()
        raise Rejected(
            file,
            "the first header cell does not end in '\\TIME_PERIOD' (or '\\time'); expected a Eurostat TSV file",
            "file:columns",
        )
    dims = [d.strip() for d in first.group(1).split(",")]
    periods = [p.strip() for p in csv_file.header_line[first.end() :].split("\t")]
    if len(csv_file.header) != len(periods) + 1 or not periods or "" in periods:
        csv_file.close()
        raise Rejected(file, "the header has empty or misplaced period columns", "file:columns")
    code = options.get("dataset") or dataset(file)
    roles = classify([*dims, TIME, VALUE])
    result = Read(iter(()), csv_file.notes)
    result.notes.append(f"dataset code {code} taken from the file name (a Eurostat TSV file does not name it)")
    result.batches = _batches(csv_file.batches(["_key", *periods]), dims, periods, roles, code, file, result)
    return result


def _batches(
    frames: Iterator[pl.DataFrame],
    dims: list[str],
    periods: list[str],
    roles: dict[str, list[str]],
    code: str,
    file: str,
    result: Read,
) -> Iterator[pl.DataFrame]:
    """One observation per cell with a number; ':' cells are counted (with their flags), not read."""
    missing, flagged, kept = 0, {}, 0
    for frame in frames:
        short = frame.filter(pl.any_horizontal(pl.col(periods).is_null()))  # polars pads a short record
        if short.height:
            row = short.row(0, named=True)
            found = 1 + next((i for i, p in enumerate(periods) if row[p] is None), len(periods))
            raise Rejected(
                file,
                f"row {row['_row']}: expected {len(periods) + 1} tab-separated fields (the key and one per "
                f"period), found {found}",
                "file:columns",
            )
        cells = frame.with_columns(
            pl.col("_key").str.split_exact(",", len(dims) - 1).struct.rename_fields(dims)
        ).unnest("_key")
        long = cells.unpivot(index=["_row", *dims], on=periods, variable_name="time", value_name="cell").with_columns(
            pl.col("cell").str.strip_chars(), *(pl.col(d).str.strip_chars() for d in dims)
        )
        gap = pl.col("cell").is_null() | (pl.col("cell") == "") | pl.col("cell").str.starts_with(":")
        gaps = long.filter(gap)
        missing += gaps.height
        for flag, n in gaps.group_by(pl.col("cell").str.strip_chars(": ")).len().iter_rows():
            if flag:
                flagged[flag] = flagged.get(flag, 0) + n
        long = long.filter(~gap)
        if not long.height:
            continue
        kept += long.height
        long = long.with_columns(
            pl.col("cell").str.extract(r"^(\S+)", 1).alias("value"),
            pl.col("cell").str.extract(r"^\S+\s+(.*)$", 1).alias("flag"),
        ).sort("_row", "time", maintain_order=True)
        yield observations(long, roles, pl.lit(f"ESTAT:{code}"), file, result, eurostat_flags=True)
    if missing:
        marks = ", ".join(f"{n} marked '{f}'" for f, n in sorted(flagged.items()))
        result.notes.append(missing_note(missing, "':' cell(s)") + (f" ({marks})" if marks else ""))
    if not kept:
        raise Rejected(file, "every cell is ':' (missing); nothing to load", "file:no_rows")
