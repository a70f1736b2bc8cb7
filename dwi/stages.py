"""The stages of a run as plain functions: plan, read, harmonise, validate, load, build.

flows/pipeline.py wraps each in a Prefect task; `dwi validate` calls the first four directly.
"""

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dwi import fetch as fetch_mod
from dwi import harmonise as harmonise_mod
from dwi import read as read_mod
from dwi import readers
from dwi.batch import Batch, issues
from dwi.load import load_batch
from dwi.manifest import Source, load_manifest, sha256
from dwi.readers.common import extend_reference
from dwi.reference import Reference, load_reference
from dwi.warehouse import fingerprint, read_state


@dataclass
class Plan:
    raw: Path
    warehouse: Path
    sources: list[Source]
    batches: list[Batch]
    fingerprint: str
    rebuild: bool  # derived objects must be rebuilt (code, SQL, reference or manifest changed)
    fetched: list = field(default_factory=list)  # dwi.fetch.Fetched, one per URL source
    published: object | None = None  # dwi.publish.Published, when the run wrote (or checked) the exports

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
    sources, fetched = fetch_mod.resolve(raw, load_manifest(raw))
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


def read(batch: Batch) -> Batch:
    """Parse the file into strings; structural problems reject it."""
    spec = importlib.import_module(f"schemas.{readers.frame_format(batch.source.format)}")
    try:
        if batch.source.format in readers.READER_FORMATS:
            tidy = readers.read_source(batch.source.path, batch.source.display, batch.source.format,
                                       batch.source.meta)
            frame, notes, batch.indicators = tidy.frame, tidy.notes, tidy.indicators
        else:
            frame, notes = read_mod.read_csv(batch.source.path, batch.source.display, spec.REQUIRED,
                                             spec.OPTIONAL)
    except read_mod.Rejected as exc:
        batch.reject(str(exc), exc.check, exc.column)
        return batch
    batch.frame, batch.rows_in = frame, frame.height
    batch.add_issues(issues([{"source_id": batch.source.id, "file": batch.source.display,
                              "check": "file:bom" if "byte-order" in note else "file:note",
                              "message": f"{batch.source.display}: {note}", "severity": "info"} for note in notes]))
    return batch


def harmonise(batch: Batch, ref: Reference) -> Batch:
    if batch.status == "pending":
        batch.frame = getattr(harmonise_mod, readers.frame_format(batch.source.format))(batch.frame, ref)
    return batch


def validate(batch: Batch, ref: Reference) -> Batch:
    if batch.status == "pending":
        from dwi import validate as validate_mod  # pandera: imported when there is something to check

        validate_mod.validate(batch, ref)
    return batch


def check(batches: list[Batch], ref: Reference | None = None) -> list[Batch]:
    """read -> harmonise -> validate for every changed batch (big files are left to `load`: dwi.bulk)."""
    from dwi import bulk  # pandera and pyarrow: imported when there is something to check

    ref = ref or load_reference()
    return [_check_one(b, ref) if b.status == "pending" and not bulk.streams(b) else b for b in batches]


def _check_one(batch: Batch, ref: Reference) -> Batch:
    read(batch)
    ref = extend_reference(ref, batch.indicators)  # codes a reader registered on the fly
    return validate(harmonise(batch, ref), ref)


def load(con: duckdb.DuckDBPyConnection, p: Plan, flow_run_id: str | None) -> None:
    """One transaction per source. A file that a concurrent run loaded meanwhile is not loaded twice."""
    from dwi import bulk

    done = dict(con.execute("SELECT source_id, arg_max(sha256, load_id) FROM _loads GROUP BY source_id").fetchall())
    for batch in p.batches:
        streamed = bulk.streams(batch)
        if batch.status not in ("checked", "rejected") and not streamed:
            continue
        if not p.rebuild and done.get(batch.source.id) == batch.sha256:
            batch.status = "unchanged"
            continue
        load_one(con, batch, dt.datetime.now(dt.UTC), flow_run_id)


def load_one(con: duckdb.DuckDBPyConnection, batch: Batch, started: dt.datetime, flow_run_id: str | None) -> None:
    """One source in its own transaction: a checked batch, or a big file streamed through dwi.bulk."""
    from dwi import bulk

    try:
        if bulk.streams(batch):
            bulk.load(con, batch, load_reference(), started, flow_run_id)
        else:
            load_batch(con, batch, started, flow_run_id)
    except duckdb.IOException:  # disk full, read-only file: the whole run fails, nothing is published
        raise
    except duckdb.Error as exc:  # the source's transaction was rolled back; record why and go on
        batch.status, batch.message = "failed", f"{batch.source.display}: load failed: {str(exc).splitlines()[0]}"
        batch.frame, batch.rows_quarantined = None, batch.rows_in
        batch.issues = issues([{"source_id": batch.source.id, "file": batch.source.display, "check": "load",
                                "message": batch.message, "severity": "error"}])
        load_batch(con, batch, started, flow_run_id)


def build(con: duckdb.DuckDBPyConnection, p: Plan, ref: Reference | None = None) -> None:
    from dwi import build as build_mod

    build_mod.build(con, ref or load_reference(), p.sources, p.fingerprint)


def run(raw: Path, warehouse: Path, flow_run_id: str | None = None) -> Plan:
    """The whole job without Prefect (the flow in flows/pipeline.py runs the same stages as tasks)."""
    from dwi.warehouse import writer

    p = plan(raw, warehouse)
    if p.nothing_to_do:
        return p
    check(p.batches)
    if not p.needs_writer:
        return p
    with writer(warehouse) as con:
        load(con, p, flow_run_id)
        build(con, p)
    return p
