"""The main job as a Prefect flow: dwi.stages.run, with each step a Prefect task.

Steps are coarse: plan; one check task per batch of a file (a small file is one batch; a big one is a stream of
them), sent to the flow's task runner (threads by default, an existing Dask cluster with `dwi run --dask
ADDRESS`, prefect-dask's DaskTaskRunner); one load-and-build; publish. Validation failures are data, not
transient errors: they are never retried. The only retried step is taking the warehouse when another run holds
it (WarehouseBusy), which is transient by nature.

The flow run's final state says what happened to the data (see `outcome`):
  Completed            every changed source loaded, nothing quarantined
  Completed "Partial"  some rows were quarantined (beyond the manifest's accepted_issues); the rest loaded
  Failed               a source was rejected as a whole; the other sources loaded (the message names it)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from dwi import stages
from dwi.config import settings
from dwi.errors import WarehouseBusy

BUSY_RETRIES = 2
_progress: stages.Progress | None = None  # set by run_plan for the command line's progress display


def _busy(task, task_run, state) -> bool:
    """Retry only when another run held the warehouse; never for data or disk problems."""
    try:
        state.result()
    except WarehouseBusy:
        return True
    except Exception:
        return False
    return False


@task(name="check", cache_policy=NO_CACHE)
def check_task(fn: Callable, *args):
    """The check of one batch of a file; runs wherever the flow's task runner puts it."""
    return fn(*args)


class PrefectRunner(stages.Runner):
    """dwi.stages.Runner with every step a Prefect task of the current flow run."""

    def step(self, name: str, fn: Callable, *args):
        options = {"name": name, "cache_policy": NO_CACHE}
        if name == "load-and-build":
            options |= {
                "retries": BUSY_RETRIES,
                "retry_delay_seconds": settings().busy_retry_delay,
                "retry_condition_fn": _busy,
            }
        return task(fn, **options)(*args)

    def submit(self, fn: Callable, *args) -> PrefectFuture:
        source, part = args[3].id, args[4].stem
        return check_task.with_options(task_run_name=f"check-{source}-{part}").submit(fn, *args)

    @property
    def flow_run_id(self) -> str | None:
        return flow_run.get_id()


def outcome(p: stages.Plan) -> State:
    """The final state of a run: Completed, Completed named "Partial", or Failed, with the reason."""
    rejected = [b for b in p.batches if b.status == "rejected"]
    # quarantined rows the manifest accepts (accepted_issues: known defects of the source) leave a run Completed
    quarantined = [b for b in p.batches if b.status != "rejected" and b.rows_quarantined > b.rows_accepted]
    loaded = sum(b.rows_loaded for b in p.batches)
    parts = [f"{b.source.id} rejected: {b.message}" for b in rejected]
    parts += [
        f"{b.source.id}: {b.rows_quarantined} of {b.rows_in} rows quarantined (first: "
        f"{b.issues.filter(b.issues['severity'] == 'error')['message'].first()})"
        for b in quarantined
    ]
    if p.nothing_to_do:
        return Completed(data=p, message="nothing changed since the last run; the warehouse was not touched")
    if not parts:
        return Completed(data=p, message=f"{len(p.changed)} source(s) loaded, {loaded} rows")
    message = "; ".join(parts) + f". {loaded} rows loaded; see the quality_issues view of {p.warehouse}"
    if rejected:
        return Failed(data=p, message=message)
    return Completed(data=p, name="Partial", message=message)


@flow(name="dwi-run", log_prints=False, validate_parameters=False)
def dwi_run(raw: Path, warehouse: Path, exports: Path | None = None) -> State:
    """Load every changed source in raw/ into the warehouse, rebuild the views and, when `exports` is a
    folder, write the exports and the report there (unless they are up to date)."""
    logger = get_run_logger()
    p = stages.run(Path(raw), Path(warehouse), PrefectRunner(_progress), Path(exports) if exports else None)
    for message in p.fetch_failures:
        logger.warning(message)
    if p.nothing_to_do:
        logger.info("nothing changed since the last run; the warehouse was not touched")
    elif not p.needs_writer:
        logger.warning("every changed source was rejected: the warehouse was not touched")
    for b in p.batches:
        for msg in b.issues.filter(b.issues["severity"] == "error")["message"].to_list()[:20]:
            logger.warning(msg)
    state = outcome(p)
    (logger.error if state.is_failed() else logger.info)(state.message)
    return state


def run_plan(
    raw: Path, warehouse: Path, exports: Path | None = None, task_runner=None, progress: stages.Progress | None = None
) -> stages.Plan:
    """Run the flow and return its Plan, whatever the data outcome; errors (busy, disk) are raised.
    `task_runner` (e.g. prefect-dask's DaskTaskRunner) runs the checks of every file's batches elsewhere."""
    global _progress
    _progress = progress
    try:
        job = dwi_run.with_options(task_runner=task_runner) if task_runner is not None else dwi_run
        state = job(raw, warehouse, exports, return_state=True)
    finally:
        _progress = None
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result
