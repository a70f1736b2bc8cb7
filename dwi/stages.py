"""The one orchestration of dwi: plan -> check -> load and build -> publish.

`dwi run` runs it as a Prefect flow (dwi/flows/pipeline.py), `dwi ingest` and `dwi validate` run it directly;
the steps are the same functions. A `Runner` says where they run: `Runner` itself runs every step here and
checks a file's batches on a small thread pool; the flow's runner makes each step a Prefect task and sends the
batches of every file, big ones included, to the flow's task runner (threads, or a Dask cluster with
`dwi run --dask`). Progress (the stage, the rows done) goes to `Runner.progress`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dwi import formats
from dwi.check.batch import Batch, issues
from dwi.config import pid_alive
from dwi.errors import EXIT_IO, DwiError
from dwi.reference import Reference, load_reference
from dwi.sources import fetch as fetch_mod
from dwi.sources.manifest import META_FIELDS, Source, load_manifest, sha256
from dwi.store.load import load_batch
from dwi.store.warehouse import fingerprint, read_state

Progress = Callable[[str, str, int, int | None], None]  # (stage, what, done, total)


class Runner:
    """Runs each step in this process, and a file's batches on a thread pool (polars and DuckDB release the
    GIL). `progress` is told what is being done."""

    def __init__(self, progress: Progress | None = None, workers: int = 2):
        self.progress = progress or (lambda *_: None)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dwi-check")

    def step(self, name: str, fn: Callable, *args):
        """A coarse step (plan, load-and-build, publish)."""
        return fn(*args)

    def submit(self, fn: Callable, *args) -> Future:
        """The check of one batch of a file."""
        return self._pool.submit(fn, *args)

    @property
    def flow_run_id(self) -> str | None:
        return None


@dataclass
class Plan:
    raw: Path
    warehouse: Path
    sources: list[Source]
    batches: list[Batch]
    fingerprint: str
    rebuild: bool  # derived objects must be rebuilt (code, SQL, reference or manifest changed)
    fetched: list = field(default_factory=list)  # dwi.sources.fetch.Fetched, one per URL source
    published: object | None = None  # dwi.publish.outputs.Published, when the run wrote (or checked) the exports

    @property
    def fetch_failures(self) -> list[str]:
        return [f.message for f in self.fetched if f.status == "failed"]

    @property
    def changed(self) -> list[Batch]:
        return [b for b in self.batches if b.status != "unchanged"]

    @property
    def nothing_to_do(self) -> bool:
        return not self.changed and not self.rebuild

    @property
    def needs_writer(self) -> bool:
        """False when every changed source was rejected and nothing must be rebuilt: the warehouse file is
        then left byte-for-byte as it was (the rejection is reported by the run, and again next run)."""
        return self.rebuild or any(b.status != "rejected" for b in self.changed)


def plan(raw: Path, warehouse: Path) -> Plan:
    """Which sources changed since their last load (by content hash), and whether to rebuild."""
    sources, fetched = fetch_mod.resolve(raw, load_manifest(raw, formats.FORMATS))
    loaded, old_fingerprint = read_state(warehouse)
    fp = fingerprint(raw)
    rebuild = fp != old_fingerprint
    batches = []
    for source in sources:
        if not source.path.is_file():  # a URL source that was never fetched successfully
            batch = Batch(source, "")
            batch.reject(next(f.message for f in fetched if f.source_id == source.id), "fetch:failed", "url")
            batches.append(batch)
            continue
        batch = Batch(source, sha256(source.path))
        last = loaded.get(source.id)
        if not rebuild and last and last[0] == batch.sha256:
            batch.status, batch.previous = "unchanged", (last[1], last[2])
        batches.append(batch)
    return Plan(raw, warehouse, sources, batches, fp, rebuild, fetched)


@contextlib.contextmanager
def staging(warehouse: Path | None) -> Iterator[Path]:
    """A folder of this process's own for checked rows, `<pid>-<random>/` under a parent: beside the warehouse
    (`<warehouse>.staging/`, a place every Dask worker of the run can reach when the warehouse is on shared
    storage), else dwi's scratch folder in the temporary folder (`dwi-scratch-<uid>/`, see `scratch_parent`);
    removed afterwards. Folders there of processes that no longer run (killed, say, by SIGKILL or the OOM
    killer) are removed first, under both parents."""
    tmp_parent = scratch_parent()
    if tmp_parent is not None:
        sweep(tmp_parent)
    if warehouse is None:
        if tmp_parent is None:  # no private scratch folder: a fresh temporary one
            root = Path(tempfile.mkdtemp(prefix="dwi-check-"))
            try:
                yield root
            finally:
                shutil.rmtree(root, ignore_errors=True)
            return
        parent = tmp_parent
    else:
        parent = warehouse.with_name(warehouse.name + ".staging")
        sweep(parent)
    from dwi.store.warehouse import io_error

    try:
        root, owner = _own_folder(parent)
    except OSError as exc:  # the warehouse's folder: read-only, not ours
        if warehouse is None:
            raise DwiError(f"cannot create a scratch folder in {parent}: {exc.strerror}", EXIT_IO) from None
        raise io_error(warehouse, exc) from None
    try:
        yield root
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) or warehouse is None:
            raise
        raise io_error(warehouse, exc) from None  # staging filled the warehouse's disk
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.close(owner)
        if warehouse is not None:
            with contextlib.suppress(OSError):
                parent.rmdir()  # only when no other process stages there


def scratch_parent() -> Path | None:
    """dwi's scratch folder in the temporary folder, `dwi-scratch-<uid>` (mode 0700), where `dwi validate`
    stages what it checks; None when it cannot be made or is not a plain folder of this user's (then a fresh
    temporary folder is used, which a killed process would leave behind)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    parent = Path(tempfile.gettempdir()) / f"dwi-scratch-{uid}"
    try:
        with contextlib.suppress(FileExistsError):
            parent.mkdir(mode=0o700)
        st = parent.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != uid):
        return None  # a symbolic link or another user's folder: never write there
    return parent


OWNER = ".owner"  # in a staging folder: locked (flock) by the process using it, as long as it runs


def _own_folder(parent: Path) -> tuple[Path, int]:
    """A new folder `<pid>-<random>` under `parent` and the open, locked descriptor of its `.owner`. The folder
    is made and locked under a hidden name, then renamed: a sweep never sees it unlocked."""
    name = f"{os.getpid()}-{secrets.token_hex(4)}"
    making = parent / f".{name}"
    parent.mkdir(parents=True, exist_ok=True)
    making.mkdir()
    owner = os.open(making / OWNER, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(owner, fcntl.LOCK_EX)  # held while this process lives: the sweep knows the folder is in use
        making.rename(parent / name)
    except OSError:
        os.close(owner)
        shutil.rmtree(making, ignore_errors=True)
        raise
    return parent / name, owner


def _pid(folder: Path) -> int:
    head = folder.name.lstrip(".").split("-")[0]
    return int(head) if head.isdigit() else 0


def sweep(parent: Path) -> None:
    """Remove the staging folders under `parent` whose process no longer runs: its lock on the folder's
    `.owner` is gone (the kernel drops it when a process dies, however it dies). A folder being made (a
    hidden name) or left by an older dwi (no `.owner`) is judged by the process id it is named by."""
    for old in parent.iterdir() if parent.is_dir() else []:
        try:
            if old.name.startswith("."):
                raise FileNotFoundError
            fd = os.open(old / OWNER, os.O_RDWR)
        except OSError:
            if not pid_alive(_pid(old)):
                shutil.rmtree(old, ignore_errors=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # in use
        else:
            shutil.rmtree(old, ignore_errors=True)
        finally:
            os.close(fd)


def check(
    batches: list[Batch], runner: Runner | None = None, root: Path | None = None, ref: Reference | None = None
) -> list[Batch]:
    """Read, harmonise and check every pending source (see dwi.check.engine); stage its rows under `root`
    (default: a temporary folder)."""
    from dwi.check import engine  # pandera: imported when there is something to check

    runner, ref = runner or Runner(), ref or load_reference()
    root = root or Path(tempfile.mkdtemp(prefix="dwi-check-"))
    for i, batch in enumerate(batches):
        if batch.status == "pending":
            runner.progress("check", batch.source.id, i, len(batches))
            try:
                engine.check_source(
                    batch,
                    formats.get(batch.source.format),
                    ref,
                    root / f"{i:05d}-{_safe(batch.source.id)}",  # numbered: ids _safe folds alike stay apart
                    runner.submit,
                    lambda rows, sid=batch.source.id: runner.progress("check", sid, rows, None),
                )
            except (OSError, duckdb.IOException, DwiError):  # the disk, the warehouse: the whole run stops
                raise
            except Exception as exc:  # a bug or a file no rule foresaw: this source is rejected, the others go on
                if os.environ.get("DWI_DEBUG"):
                    raise
                batch.issues, batch.rows_in, batch.indicators = issues(), 0, None
                why = (str(exc).strip().splitlines() or [""])[0][:200]
                batch.reject(
                    f"{batch.source.display}: could not be checked ({type(exc).__name__}: {why}); the other "
                    "sources were loaded. Please report this file (DWI_DEBUG=1 shows the traceback)",
                    "file:error",
                )
    return batches


def _safe(source_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", source_id).lstrip(".") or "_"


def load(con: duckdb.DuckDBPyConnection, p: Plan, flow_run_id: str | None) -> None:
    """One transaction per source. A file that a concurrent run loaded meanwhile is not loaded twice."""
    done = dict(con.execute("SELECT source_id, arg_max(sha256, load_id) FROM _loads GROUP BY source_id").fetchall())
    for batch in p.batches:
        if batch.status not in ("checked", "rejected"):
            continue
        if not p.rebuild and done.get(batch.source.id) == batch.sha256:
            batch.status = "unchanged"
            continue
        load_one(con, batch, dt.datetime.now(dt.UTC), flow_run_id)


def load_one(con: duckdb.DuckDBPyConnection, batch: Batch, started: dt.datetime, flow_run_id: str | None) -> None:
    """One checked source in its own transaction; a database error records it as failed and goes on."""
    from dwi.check.engine import discard

    target = formats.get(batch.source.format).target
    try:
        load_batch(con, batch, target, started, flow_run_id)
    except duckdb.IOException:  # disk full, read-only file: the whole run fails, nothing is published
        raise
    except duckdb.Error as exc:  # the source's transaction was rolled back; record why and go on
        batch.status, batch.message = "failed", f"{batch.source.display}: load failed: {str(exc).splitlines()[0]}"
        batch.rows_quarantined = batch.rows_in
        batch.issues = issues(
            [
                {
                    "source_id": batch.source.id,
                    "file": batch.source.display,
                    "check": "load",
                    "message": batch.message,
                    "severity": "error",
                }
            ]
        )
        load_batch(con, batch, target, started, flow_run_id)
    finally:
        discard(batch)


def build(con: duckdb.DuckDBPyConnection, sources: list[Source], fp: str, ref: Reference | None = None) -> None:
    from dwi.derive import BUILDERS
    from dwi.store.build import build as build_views

    build_views(con, ref or load_reference(), sources, fp, BUILDERS)


def load_and_build(p: Plan, flow_run_id: str | None = None) -> Plan:
    """One writer session: each source in its own transaction, then the derived objects, then the swap."""
    from dwi.store.warehouse import writer

    with writer(p.warehouse) as con:
        load(con, p, flow_run_id)
        build(con, p.sources, p.fingerprint)
        for batch in p.batches:
            if batch.status == "loaded":
                batch.outcome = outcome(con, batch.source.id)
    return p


def run(raw: Path, warehouse: Path, runner: Runner | None = None, exports: Path | None = None) -> Plan:
    """The main job: load every changed source of raw/, rebuild, and write the exports (to `exports`)."""
    runner = runner or Runner()
    p = runner.step("plan", plan, raw, warehouse)
    if not p.nothing_to_do:
        with staging(warehouse) as root:
            check(p.batches, runner, root)
            if p.needs_writer:
                runner.progress("load", "warehouse", 0, None)
                p = runner.step("load-and-build", load_and_build, p, runner.flow_run_id)
    if exports is not None and warehouse.is_file():
        from dwi.publish.outputs import publish

        runner.progress("publish", str(exports), 0, None)
        p.published = runner.step("publish", publish, warehouse, exports)
    return p


def validate(paths: list[Path], raw: Path, runner: Runner | None = None) -> list[Batch]:
    """Check files against every rule (format from the manifest if listed there, else from the content);
    loads nothing."""
    runner = runner or Runner()
    listed = {s.path: s for s in load_manifest(raw, formats.FORMATS)} if (raw / "manifest.yaml").is_file() else {}
    batches = []
    for path in paths:
        if not path.is_file():
            raise DwiError(f"{path}: no such file")
        source = listed.get(path.resolve()) or Source(
            path.stem, path.resolve(), formats.detect(path).name, {"_relpath": str(path)}
        )
        batches.append(Batch(source, sha256(path)))
    with staging(None) as root:
        check(batches, runner, root)
    for b in batches:
        b.parts = []
    return batches


SOURCE_ID = re.compile(r"[\w.-]+")  # letters and digits of any script, '_', '-', '.'


def known_sources(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    """Every source id the warehouse has seen (listed, ingested, retired or only loaded), with the dataset
    identity of those loaded with `dwi ingest` (None for the others)."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    known: dict[str, str | None] = {}
    for table, column in (("_loads", "source_id"), ("_sources", "id"), ("_retired_sources", "id")):
        if table in tables:
            known |= {r[0]: None for r in con.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()}
    if "_ingested_sources" in tables:
        has_identity = "identity" in {r[1] for r in con.execute("PRAGMA table_info('_ingested_sources')").fetchall()}
        sql = f"SELECT id, {'identity' if has_identity else 'NULL'} FROM _ingested_sources"
        known |= dict(con.execute(sql).fetchall())
    return known


def choose_source_id(identity: formats.Identity, known: dict[str, str | None], explicit: str | None = None) -> str:
    """The source a file loads into. `--source-id` wins. Otherwise the ingested source holding the same dataset
    (a new vintage of it), else a new id from the identity's name; when another source already has that name
    (in any letter case), the name plus a short hash of the identity, so two datasets never share an id."""
    folded = {k.casefold(): k for k in known}
    if explicit is not None:
        if not SOURCE_ID.fullmatch(explicit):
            raise DwiError(f"--source-id '{explicit}': use letters, digits, '_', '-' or '.' (no spaces)")
        other = folded.get(explicit.casefold())
        if other is not None and other != explicit:
            raise DwiError(
                f"--source-id '{explicit}' differs only in letter case from the source '{other}'; "
                f"pass '{other}' to load a new vintage of it, or choose another id"
            )
        return explicit
    same = sorted(k for k, v in known.items() if v == identity.key)
    if same:
        return same[0]
    digest = hashlib.sha256(identity.key.encode()).hexdigest()
    candidates = [identity.name, *(f"{identity.name}_{digest[:n]}" for n in (8, 16, 64))]
    return next(c for c in candidates if c.casefold() not in folded)


def _current_sources(con: duckdb.DuckDBPyConnection) -> list[Source]:
    """The sources the warehouse was last built with (the manifest's), so that ingest keeps them."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "_sources" not in tables:
        return []
    rows = con.sql("SELECT * FROM _sources WHERE id NOT IN (SELECT id FROM _ingested_sources)").pl()
    return [
        Source(
            r["id"],
            Path(r["path"]),
            r["format"],
            {**{k: r.get("table_ref" if k == "table" else k) or "" for k in META_FIELDS}, "_relpath": r["path"]},
        )
        for r in rows.iter_rows(named=True)
    ]


def ingest(
    path: Path,
    warehouse: Path,
    fmt: str | None = None,
    source_id: str | None = None,
    layout: str | None = None,
    runner: Runner | None = None,
) -> Batch:
    """Check and load one file as a source of its own; returns its batch (unchanged, loaded or rejected) with
    `outcome` saying what happened: a new source, a new vintage of one (n changed, added, removed), unchanged.

    The source is the dataset the file holds (dwi.formats.identify): a new download of a dataset loaded
    before is a new vintage of its source, whatever the file's name; `source_id` overrides it."""
    from dwi.store.warehouse import writer

    runner = runner or Runner()
    if not path.is_file():
        raise DwiError(f"{path}: no such file")
    if fmt and fmt not in {*formats.FORMATS, *formats.ALIASES}:
        raise DwiError(f"--format must be one of {', '.join([*formats.FORMATS, *formats.ALIASES])}, not '{fmt}'")
    fmt_obj = formats.get(fmt) if fmt else formats.detect(path)
    name = fmt_obj.name
    options = {"layout": layout} if layout else {}
    identity = formats.identify(path, fmt_obj, options)
    loaded, fp = read_state(warehouse)
    sid = choose_source_id(identity, _known(warehouse), source_id)
    meta = {
        "_relpath": str(path),
        "title": f"{identity.title or path.name} (file {path.name}, loaded with dwi ingest)",
        "notes": f"dataset {identity.key}; format {name}" + ("" if fmt else ", detected from content"),
        **options,
    }
    batch = Batch(Source(sid, path.resolve(), name, meta), sha256(path))
    if loaded.get(sid, ("",))[0] == batch.sha256:
        batch.status, batch.outcome = "unchanged", f"unchanged: already loaded as source '{sid}'"
        return batch
    started = dt.datetime.now(dt.UTC)
    with staging(warehouse) as root, contextlib.suppress(_LoadedMeanwhile):
        check([batch], runner, root)
        runner.progress("load", sid, 0, None)
        with writer(warehouse) as con:
            if source_id is None and choose_source_id(identity, known_sources(con)) != sid:
                raise DwiError(f"{path}: another dwi ingest loaded a source '{sid}' meanwhile; run this one again")
            last = con.execute("SELECT arg_max(sha256, load_id) FROM _loads WHERE source_id = ?", [sid]).fetchall()
            if last[0][0] == batch.sha256:  # another dwi ingest of this content held the lock first
                batch.status, batch.outcome = "unchanged", f"unchanged: already loaded as source '{sid}'"
                raise _LoadedMeanwhile  # leaves the warehouse file untouched
            sources = [s for s in _current_sources(con) if s.id != sid]  # a new vintage of a listed source
            load_one(con, batch, started, None)
            con.execute("DELETE FROM _ingested_sources WHERE id = ?", [sid])
            con.execute(
                "INSERT INTO _ingested_sources (id, path, format, title, notes, ingested, identity) "
                "VALUES (?, ?, ?, ?, ?, now(), ?)",
                [sid, str(path), name, meta["title"], meta["notes"], identity.key],
            )
            runner.progress("build", "views", 0, None)
            build(con, [*sources, batch.source], fp or "")
            batch.outcome = outcome(con, sid)
    return batch


class _LoadedMeanwhile(Exception):
    """Ends a write that found its content loaded by another process while it waited for the lock."""


def _known(warehouse: Path) -> dict[str, str | None]:
    if not warehouse.is_file():
        return {}
    from dwi.store.warehouse import connect_read_only

    con = connect_read_only(warehouse)
    try:
        return known_sources(con)
    finally:
        con.close()


def outcome(con: duckdb.DuckDBPyConnection, sid: str) -> str:
    """What the latest load of a source did: a new source, a new vintage (values changed, added, removed
    against the previous vintage, as listed in `revisions`), or a rejection that left the previous one."""
    status, load_id = con.execute(
        "SELECT arg_max(status, load_id), max(load_id) FROM _loads WHERE source_id = ?", [sid]
    ).fetchall()[0]
    previous = con.execute(
        "SELECT max(load_id) FROM _loads WHERE source_id = ? AND status = 'loaded' AND load_id < ?", [sid, load_id]
    ).fetchall()[0][0]
    if status != "loaded":
        kept = f"; vintage {previous} of '{sid}' stays current" if previous else ""
        return f"{status}{kept}"
    if previous is None:
        return f"new source '{sid}'"
    observed = con.execute("SELECT count(*) FROM _observations WHERE load_id IN (?, ?)", [load_id, previous])
    if not observed.fetchall()[0][0]:  # conventions, assessments: no revisions to count
        return f"new vintage of '{sid}'"
    changed, added, removed = con.execute(
        "SELECT count(*) FILTER (old_value IS NOT NULL AND new_value IS NOT NULL), "
        "count(*) FILTER (old_value IS NULL), count(*) FILTER (new_value IS NULL) "
        "FROM revisions WHERE new_load_id = ?",
        [load_id],
    ).fetchall()[0]
    if not changed + added + removed:
        return f"unchanged: the same values as vintage {previous} of '{sid}'"
    return f"new vintage of '{sid}' ({changed} changed, {added} added, {removed} removed)"
