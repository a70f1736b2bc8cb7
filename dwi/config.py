"""Where things are. Every path can be overridden from the command line or the environment."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
SQL_DIR = ROOT / "warehouse" / "sql"
DEFAULT_RAW = ROOT / "raw"
DEFAULT_WAREHOUSE = ROOT / "warehouse" / "decent_work.duckdb"
DEFAULT_EXPORTS = ROOT / "exports"


def warehouse_path(arg: str | Path | None = None) -> Path:
    """--warehouse, else $DWI_WAREHOUSE, else warehouse/decent_work.duckdb."""
    return Path(arg or os.environ.get("DWI_WAREHOUSE") or DEFAULT_WAREHOUSE).resolve()


def raw_dir(arg: str | Path | None = None) -> Path:
    """--raw, else $DWI_RAW, else raw/."""
    return Path(arg or os.environ.get("DWI_RAW") or DEFAULT_RAW).resolve()


def lock_timeout() -> float:
    """Seconds a second writer waits for the warehouse before giving up ($DWI_LOCK_TIMEOUT, default 30)."""
    return float(os.environ.get("DWI_LOCK_TIMEOUT", "30"))


def busy_retry_delay() -> float:
    """Seconds the flow waits before retrying a busy warehouse ($DWI_BUSY_RETRY_DELAY, default 30)."""
    return float(os.environ.get("DWI_BUSY_RETRY_DELAY", "30"))
