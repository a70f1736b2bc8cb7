"""The DuckDB warehouse file: read-only access for queries, one writer at a time, atomic replacement.

A run never writes the warehouse in place. It takes an exclusive lock (`<file>.lock`), copies the file,
writes the copy (one transaction per source), checkpoints it and renames it over the original. A
reader therefore sees the old file or the new one, never a half-loaded source; a crash or a full disk
leaves the original untouched, and the next run removes the leftover copy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from dwi import config
from dwi.errors import DwiError, WarehouseBusy, WarehouseDamaged, WarehouseIOError


def io_error(path: Path, exc: OSError) -> WarehouseIOError:
    why = {
        errno.ENOSPC: "the disk is full",
        errno.EACCES: "permission denied",
        errno.EROFS: "read-only file system",
        errno.EPERM: "permission denied",
    }.get(exc.errno, exc.strerror or str(exc))
    return WarehouseIOError(f"cannot write the warehouse {path}: {why}; nothing was changed")


def damaged(path: Path, exc: BaseException) -> WarehouseDamaged:
    """The one message for a warehouse file DuckDB cannot read (garbage, truncated, a .wal of another file)."""
    why = str(exc).splitlines()[0][:300]
    if "WAL" in why:
        return WarehouseDamaged(
            f"warehouse {path}: its write-ahead log {path.name}.wal belongs to an older version of the file "
            f"({why}); no dwi command can use it. If no DuckDB process has the warehouse open, move the log "
            f"aside (mv {path}.wal {path}.wal.old) and run `dwi run` again"
        )
    return WarehouseDamaged(
        f"warehouse {path} is damaged or not a DuckDB file ({why}); restore it from a backup, or move it "
        "aside and run `dwi run` to rebuild it from raw/"
    )


def _locked(exc: BaseException) -> bool:
    return "lock" in str(exc).lower()


def connect_read_only(path: Path, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection; waits (bounded) if the file is momentarily locked. A file DuckDB cannot read
    is reported as damaged (exit 6), not as busy."""
    if not path.is_file():
        raise DwiError(f"no warehouse at {path}; run `dwi run` first (or pass --warehouse)")
    deadline = time.monotonic() + (config.settings().lock_timeout if wait is None else wait)
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            if not _locked(exc):
                raise damaged(path, exc) from None
            if time.monotonic() > deadline:
                raise WarehouseBusy(f"warehouse {path} is busy: {str(exc).splitlines()[0]}") from None
            time.sleep(0.2)


def apply_wal(path: Path) -> None:
    """A `.wal` beside the warehouse holds committed changes of a DuckDB process that stopped before its
    checkpoint: they are written into the file (under the writer lock) before dwi copies it, so a write never
    drops them. A log DuckDB refuses (it belongs to an older file) stops the write with what to do."""
    if not Path(f"{path}.wal").exists() or not path.exists():
        return
    try:
        con = duckdb.connect(str(path), config={"memory_limit": config.settings().memory})
        try:
            con.execute("CHECKPOINT")
        finally:
            con.close()
    except duckdb.Error as exc:
        if _locked(exc):
            raise WarehouseBusy(
                f"warehouse {path} is busy: another program has it open for writing ({str(exc).splitlines()[0]})"
            ) from None
        raise damaged(path, exc) from None


@contextlib.contextmanager
def writer_lock(path: Path, timeout: float | None = None) -> Iterator[None]:
    """Exclusive lock for writers. Waits up to `timeout` seconds, then fails with 'warehouse is busy'."""
    timeout = config.settings().lock_timeout if timeout is None else timeout
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise io_error(path, exc) from None
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"warehouse {path} is busy: another dwi run is writing it (waited {timeout:g} s); "
                        "try again later or raise DWI_LOCK_TIMEOUT"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def _leftovers(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".tmp-*"))


@contextlib.contextmanager
def writer(path: Path, timeout: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a private copy of the warehouse, swapped in atomically if the block succeeds."""
    with writer_lock(path, timeout):
        for stale in _leftovers(path):
            stale.unlink(missing_ok=True)
        apply_wal(path)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        con = None
        try:
            if path.exists():
                shutil.copyfile(path, tmp)
            # DuckDB's buffer is capped, so a build over millions of rows spills to disk instead of growing.
            try:
                con = duckdb.connect(str(tmp), config={"memory_limit": config.settings().memory})
            except duckdb.Error as exc:  # the copy is whole (the disk took it): DuckDB cannot read the file
                raise damaged(path, exc) from None
            run_sql_file(con, config.SQL_DIR / "schema.sql")
            yield con
            con.execute("CHECKPOINT")
            con.close()
            con = None
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise io_error(path, exc) from None
        except duckdb.IOException as exc:
            raise WarehouseIOError(
                f"cannot write the warehouse {path}: {str(exc).splitlines()[0]}; nothing was changed"
            ) from None
        finally:
            if con is not None:
                con.close()
            for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
                leftover.unlink(missing_ok=True)


def run_sql_file(con: duckdb.DuckDBPyConnection, file: Path) -> None:
    con.execute(file.read_text(encoding="utf-8"))


def fingerprint(raw: Path) -> str:
    """Hash of everything besides the source files that shapes the warehouse: code, SQL, reference, manifest."""
    digest = hashlib.sha256()
    from dwi import schemas  # installed as dwi.schemas from the top-level schemas/ (see pyproject.toml)

    files = [
        *sorted(config.SQL_DIR.rglob("*.sql")),
        *sorted(config.REFERENCE_DIR.rglob("*")),
        *sorted(config.PACKAGE.rglob("*.py")),
        *sorted(Path(schemas.__file__).parent.glob("*.py")),
        raw / "manifest.yaml",
    ]
    for f in files:
        if f.is_file():
            digest.update(f.name.encode())
            digest.update(f.read_bytes())
    return digest.hexdigest()


def read_state(path: Path) -> tuple[dict[str, tuple[str, str, int]], str | None]:
    """({source: (sha256, status, rows_quarantined) of its latest load attempt}, build fingerprint)."""
    if not path.is_file():
        return {}, None
    con = connect_read_only(path)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "_loads" not in tables:
            return {}, None
        shas = {
            sid: (sha, status, quarantined)
            for sid, sha, status, quarantined in con.execute(
                "SELECT source_id, arg_max(sha256, load_id), arg_max(status, load_id), "
                "arg_max(rows_quarantined, load_id) FROM _loads GROUP BY source_id"
            ).fetchall()
        }
        row = next(iter(con.execute("SELECT value FROM _meta WHERE key = 'fingerprint'").fetchall()), None)
        return shas, (row[0] if row else None)
    finally:
        con.close()
