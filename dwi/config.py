"""Every setting of dwi in one place: each `DWI_*` environment variable, its default and what it bounds.

Paths default to the current folder, a project made by `dwi init` (raw/, warehouse/, exports/); the command
line overrides the environment, which overrides the default. `settings()` reads the environment each time
it is called, so a test or a long-running server sees a change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent
REFERENCE_DIR = PACKAGE / "reference"
SQL_DIR = PACKAGE / "store" / "sql"
DEFAULT_RAW = Path("raw")
DEFAULT_WAREHOUSE = Path("warehouse") / "decent_work.duckdb"
DEFAULT_EXPORTS = Path("exports")


@dataclass(frozen=True)
class Settings:
    """The settings, with their environment variable in the field's metadata (see `settings`)."""

    lock_timeout: float = 30.0  # DWI_LOCK_TIMEOUT: seconds a second writer waits for the warehouse
    busy_retry_delay: float = 30.0  # DWI_BUSY_RETRY_DELAY: seconds the flow waits before retrying a busy warehouse
    memory: str = "512MB"  # DWI_MEMORY: DuckDB's memory cap for every write (it spills to disk beyond it)
    chunk_bytes: int = 64 << 20  # DWI_CHUNK_BYTES: bytes of a file read, checked and staged at a time
    max_field_chars: int = 65_536  # DWI_MAX_FIELD_CHARS: a longer cell is a broken quote, not a figure
    fetch_timeout: float = 30.0  # DWI_FETCH_TIMEOUT: seconds per HTTP request of a URL source
    fetch_retries: int = 3  # DWI_FETCH_RETRIES: attempts after the first
    fetch_backoff: float = 1.0  # DWI_FETCH_BACKOFF: seconds before the first retry (doubled each time)
    # Limits on untrusted input: each stops the file (or the command) with one message naming the limit.
    max_decompressed_bytes: int = 64 << 30  # DWI_MAX_DECOMPRESSED_BYTES: bytes a compressed file may expand to
    max_lines: int = 500_000_000  # DWI_MAX_LINES: lines of a text file (after decompression)
    max_header_columns: int = 10_000  # DWI_MAX_HEADER_COLUMNS: columns in a header row
    max_sheet_cells: int = 20_000_000  # DWI_MAX_SHEET_CELLS: cells in a sheet's used range (rows x columns)
    max_download_bytes: int = 8 << 30  # DWI_MAX_DOWNLOAD_BYTES: bytes of one URL download (after decoding)
    max_yaml_aliases: int = 100  # DWI_MAX_YAML_ALIASES: aliases (*name) in a manifest or a layout file
    sql_timeout: float = 60.0  # DWI_SQL_TIMEOUT: seconds a `dwi sql` query may run
    sql_memory: str = "1GB"  # DWI_SQL_MEMORY: DuckDB's memory cap for `dwi sql` (and its spill to disk)
    sql_max_rows: int = 1_000_000  # DWI_SQL_MAX_ROWS: rows `dwi sql` prints; a bigger result is refused
    dask: str = ""  # DWI_DASK: address of an existing Dask cluster that checks the files (`dwi run --dask`)


def settings() -> Settings:
    """The settings from the environment (DWI_<FIELD NAME>), else their defaults."""
    values = {}
    for f in fields(Settings):
        raw = os.environ.get(f"DWI_{f.name.upper()}")
        if raw not in (None, ""):
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError:
                from dwi.errors import DwiError

                raise DwiError(f"DWI_{f.name.upper()}={raw!r}: expected a {kind.__name__}") from None
    return Settings(**values)


def warehouse_path(arg: str | Path | None = None) -> Path:
    """--warehouse, else $DWI_WAREHOUSE, else warehouse/decent_work.duckdb."""
    return Path(arg or os.environ.get("DWI_WAREHOUSE") or DEFAULT_WAREHOUSE).resolve()


def raw_dir(arg: str | Path | None = None) -> Path:
    """--raw, else $DWI_RAW, else raw/."""
    return Path(arg or os.environ.get("DWI_RAW") or DEFAULT_RAW).resolve()


def exports_dir(arg: str | Path | None = None) -> Path:
    """--exports, else $DWI_EXPORTS, else exports/."""
    return Path(arg or os.environ.get("DWI_EXPORTS") or DEFAULT_EXPORTS).resolve()


def read_yaml(path: Path) -> Any:  # noqa: ANN401  (whatever the document holds)
    """A YAML file of the package (the registry, the framework, the claims), parsed with libyaml's safe loader
    where PyYAML has it (about 10 times faster than the pure-Python one; the same documents result)."""
    import yaml  # noqa: PLC0415

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506  (a safe loader)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a pid that cannot be signalled counts as alive; 0 or less never)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return pid > 0
