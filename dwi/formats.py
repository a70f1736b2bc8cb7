"""The format registry: every file format dwi reads, declared once.

A `Format` says how a file is recognised (from its content, never its name), which reader reads it, which
dataset the file holds (`identify`, read from the content: a source is a dataset, not a file name) and what
its rows become: a `Target`, one kind of warehouse row with its harmonising step, its pandera schema (the one
statement of the row rules), its key, the expectation each rule states when it fails, the table it loads
into, and the checks that need the whole file. Everything else (`dwi run`, `dwi ingest`, `dwi validate`, the
manifest, the CLI's --format) looks formats up here.

Adding a format: write its reader in dwi/readers/ (a `read(path, file, options) -> Read`, a detection test
and, where the content names its dataset, an `identify(path, options) -> Identity | None`), add one `Format`
below, and test it on a real file of that kind.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandera.polars as pa
import polars as pl

from dwi import schemas
from dwi.check import harmonise, validate
from dwi.errors import DwiError
from dwi.readers import Identity, Read, eurostat, ilostat, kazstat, sdmx, slug, tables, uis, wdi, xlsx
from dwi.readers.text import head_text
from dwi.reference import Reference
from dwi.schemas import conventions, dwcp_assessments, observations, worldbank_metadata
from dwi.sources.manifest import Source

Harmonise = Callable[[pl.DataFrame, Reference], pl.DataFrame]
# (source, checked rows, reference) -> warning issues; rows: the ones that load, read back a group at a time
RowFindings = Callable[[Source, pl.DataFrame, Reference], pl.DataFrame]


@dataclass(frozen=True)
class Target:
    """What checked rows become: rows of `table`, inserted with `columns` (a SELECT list over the staged rows;
    $load_id and $source_id are parameters)."""

    name: str
    table: str
    columns: str
    harmonise: Harmonise
    schema: Callable[[Reference], pa.DataFrameSchema]
    key: list[str]
    messages: dict[str, str]
    staged: list[str]  # the harmonised columns kept for loading and for the whole-file checks
    row_findings: RowFindings | None = None  # warnings about single rows (run on every batch)
    group_findings: RowFindings | None = None  # warnings comparing rows of one year (run on the file)
    group_codes: Callable[[Reference], list[str]] | None = None  # the indicators group_findings looks at
    held_back: Callable[[str, pl.DataFrame, list[int]], tuple[str, str]] | None = None  # loads whole or not at all


@dataclass(frozen=True)
class Head:
    """The start of a file, as format detection sees it."""

    magic: bytes
    zip_names: list[str]
    lines: list[str]
    path: Path | None = None  # a workbook's detection reads its sheets

    @property
    def header(self) -> set[str]:
        return {c.strip().strip('"') for c in (self.lines[0] if self.lines else "").split(",")}


@dataclass(frozen=True)
class Format:
    name: str
    target: Target
    read: Callable[[Path, str, dict], Read]
    detect: Callable[[Head], bool]
    summary: str
    # (path, options) -> the dataset the file holds, from its content (e.g. ILOSTAT's indicator and frequency,
    # the World Bank's indicator code, an SDMX dataflow, a table's title); None: the file itself identifies it.
    identify: Callable[[Path, dict], Identity | None] | None = None


OBSERVATIONS = Target(
    name="observations",
    table="_observations",
    columns="$load_id, $source_id, _row, indicator_code, region_code, region, sex, year, period, value, "
    "value_reported, unit, obs_status, source_ref, note, country, classif1, classif2",
    harmonise=harmonise.observations,
    schema=observations.schema,
    key=observations.KEY,
    messages=observations.MESSAGES,
    staged=[
        "indicator_code",
        "region_code",
        "region",
        "sex",
        "year",
        "period",
        "value",
        "value_reported",
        "unit",
        "obs_status",
        "source_ref",
        "note",
        "country",
        "classif1",
        "classif2",
    ],
    row_findings=validate.region_date_warnings,
    group_findings=validate.group_warnings,
    group_codes=validate.group_codes,
)
CONVENTIONS = Target(
    name="conventions",
    table="_conventions",
    columns="$load_id, $source_id, _row, convention_no, title, ratification_date, note",
    harmonise=harmonise.conventions,
    schema=conventions.schema,
    key=conventions.KEY,
    messages=conventions.MESSAGES,
    staged=["convention_no", "title", "ratification_date", "note"],
)
DWCP_ASSESSMENTS = Target(
    name="dwcp_assessments",
    table="_dwcp_assessments",
    columns="$load_id, $source_id, _row, programme, level, code, parent_code, title, status_text, grade, "
    "grade_reported, grade_basis, evidence, location, note",
    harmonise=harmonise.dwcp_assessments,
    schema=dwcp_assessments.schema,
    key=dwcp_assessments.KEY,
    messages=dwcp_assessments.MESSAGES,
    staged=[
        "programme",
        "level",
        "code",
        "parent_code",
        "title",
        "status_text",
        "grade",
        "grade_reported",
        "grade_basis",
        "evidence",
        "location",
        "note",
    ],
    held_back=dwcp_assessments.held_back,
)
WB_COUNTRIES = Target(
    name="wb_countries",
    table="_wb_countries",
    columns="$load_id, $source_id, _row, country_code, country_name, region, income_group, special_notes",
    harmonise=lambda frame, ref: frame,
    schema=worldbank_metadata.country_schema,
    key=worldbank_metadata.COUNTRY_KEY,
    messages=worldbank_metadata.MESSAGES,
    staged=list(worldbank_metadata.COUNTRY_COLUMNS.values()),
)
WB_INDICATORS = Target(
    name="wb_indicators",
    table="_wb_indicators",
    columns="$load_id, $source_id, _row, indicator_code, indicator_name, source_note, source_organization",
    harmonise=lambda frame, ref: frame,
    schema=worldbank_metadata.indicator_schema,
    key=worldbank_metadata.INDICATOR_KEY,
    messages=worldbank_metadata.MESSAGES,
    staged=list(worldbank_metadata.INDICATOR_COLUMNS.values()),
)


def _has_columns(required: list[str]) -> Callable[[Head], bool]:
    return lambda head: set(required) <= head.header


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format(
            "ilostat",
            OBSERVATIONS,
            ilostat.read,
            lambda h: ilostat.detect(h.header),
            "an ILOSTAT download with codes, labels or both (.csv, .csv.gz, .xlsx)",
            ilostat.identify,
        ),
        Format(
            "kazstat",
            OBSERVATIONS,
            kazstat.read,
            lambda h: xlsx.detect(h.magic, h.zip_names) and kazstat.detect(h.path),
            "a stat.gov.kz workbook (years across, regions or indicator blocks down), read without a layout",
            kazstat.identify,
        ),
        Format(
            "xlsx",
            OBSERVATIONS,
            xlsx.read,
            lambda h: xlsx.detect(h.magic, h.zip_names),
            "an agency spreadsheet (.xlsx) read with a layout",
            xlsx.identify,
        ),
        Format(
            "wb_countries",
            WB_COUNTRIES,
            wdi.metadata_reader(worldbank_metadata.COUNTRY_COLUMNS),
            _has_columns(list(worldbank_metadata.COUNTRY_COLUMNS)),
            "a World Bank download's Metadata_Country CSV (region, income group, notes of each area)",
            wdi.identify_countries,
        ),
        Format(
            "wb_indicators",
            WB_INDICATORS,
            wdi.metadata_reader(worldbank_metadata.INDICATOR_COLUMNS),
            _has_columns(list(worldbank_metadata.INDICATOR_COLUMNS)),
            "a World Bank download's Metadata_Indicator CSV (definition and source of each indicator)",
            wdi.identify_indicators,
        ),
        Format(
            "wdi",
            OBSERVATIONS,
            wdi.read,
            lambda h: wdi.detect(h.lines),
            "a World Bank (WDI or DataBank) CSV, one column per year",
            wdi.identify,
        ),
        Format(
            "sdmx_csv",
            OBSERVATIONS,
            sdmx.read,
            lambda h: sdmx.detect(h.header),
            "SDMX-CSV 1.0 or 2.0 (sdmx.ilo.org, Eurostat, OECD), one observation per row",
            sdmx.identify,
        ),
        Format(
            "eurostat_tsv",
            OBSERVATIONS,
            eurostat.read,
            lambda h: eurostat.detect(h.lines),
            "a Eurostat TSV download (.tsv, .tsv.gz), one column per period, flags after the value",
            eurostat.identify,
        ),
        Format(
            "uis",
            OBSERVATIONS,
            uis.read,
            lambda h: uis.detect(h.header),
            "a UNESCO UIS download: a UIS.Stat export (EDULIT_IND, LOCATION, TIME, Value, Flags) or a bulk file",
            uis.identify,
        ),
        Format(
            "observations",
            OBSERVATIONS,
            tables.reader(observations.REQUIRED, observations.OPTIONAL),
            _has_columns(observations.REQUIRED),
            "dwi's tidy observations table",
        ),
        Format(
            "conventions",
            CONVENTIONS,
            tables.reader(conventions.REQUIRED, conventions.OPTIONAL),
            _has_columns(conventions.REQUIRED),
            "a list of ratified ILO conventions",
        ),
        Format(
            "dwcp_assessments",
            DWCP_ASSESSMENTS,
            tables.reader(dwcp_assessments.REQUIRED, dwcp_assessments.OPTIONAL),
            _has_columns(dwcp_assessments.REQUIRED),
            "a programme's structure and grades",
        ),
    )
}
ALIASES = {"tidy": "observations"}


def get(name: str) -> Format:
    """The format called `name` (or one of its aliases); a clear error for any other name."""
    fmt = FORMATS.get(ALIASES.get(name, name))
    if fmt is None:
        raise DwiError(f"format '{name}' is not one of {', '.join([*FORMATS, *ALIASES])}")
    return fmt


def head(path: Path) -> Head:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    names: list[str] = []
    if magic == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except zipfile.BadZipFile:
            names = ["xl/"]  # a damaged workbook: the xlsx reader says so
        if not any(n.startswith("xl/") for n in names):
            raise DwiError(f"{path}: a zip archive that is not an .xlsx workbook; unpack it and ingest the file inside")
        return Head(magic, names, [",".join(row) for row in xlsx.first_rows(path)], path)
    return Head(magic, [], head_text(path).splitlines())


def detect(path: Path) -> Format:
    """The format of a file, from its content (the first format whose test matches; tidy observations if
    none does, so that the observations reader names what is wrong with the header)."""
    start = head(path)
    return next((f for f in FORMATS.values() if f.detect(start)), FORMATS["observations"])


def identify(path: Path, fmt: Format, options: dict | None = None) -> Identity:
    """The dataset a file holds: what its format reads from the content, else the file itself. A file-based
    identity is the file's absolute path (so `a/data.csv` and `b/data.csv` are two datasets, and a new file at
    the same place is a new vintage); its name is the file name without extensions, in any script
    ('занятость.csv' -> 'занятость'), or 'file' when no letter or digit is left."""
    found = None
    if fmt.identify is not None:
        try:
            found = fmt.identify(path, options or {})
        except (OSError, ValueError, DwiError):  # unreadable: the reader says why when it reads the file
            found = None
    if found is not None and found.name:
        return found
    stem = re.sub(r"(\.[A-Za-z0-9]{1,5})+$", "", path.name)
    return Identity(f"file:{path.resolve()}", slug(stem) or "file", path.name)


def schema_messages() -> dict[str, str]:
    """Every rule's expectation, for documentation (where two targets word a rule differently, observations')."""
    targets = (WB_COUNTRIES, WB_INDICATORS, DWCP_ASSESSMENTS, CONVENTIONS, OBSERVATIONS)
    return {k: v for t in targets for k, v in t.messages.items()} | schemas.COMMON
