"""The main job as a Prefect flow: plan -> read/harmonise/validate -> load -> build.

Tasks are coarse (plan; read-harmonise-validate once per changed source; one load-and-build) because a
Prefect task costs milliseconds. The per-source checks run on the flow's task runner: threads by default,
an existing Dask cluster with `dwi run --dask ADDRESS` (prefect-dask's DaskTaskRunner).
Validation failures are data, not transient errors: they are never retried. The only retried step is
taking the warehouse when another run holds it (WarehouseBusy), which is transient by nature.

The flow run's final state says what happened to the data (see `outcome`):
  Completed            every changed source loaded, nothing quarantined
  Completed "Partial"  some rows were quarantined; the rest loaded (the message counts them)
  Failed               a source was rejected as a whole; the other sources loaded (the message names it)
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Completed, Failed, State

from dwi import config, stages
from dwi.batch import Batch
from dwi.errors import WarehouseBusy
from dwi.reference import load_reference
from dwi.warehouse import writer

BUSY_RETRIES = 2


def _busy(task, task_run, state) -> bool:
    """Retry only when another run held the warehouse; never for data or disk problems."""
    try:
        state.result()
    except WarehouseBusy:
        return True
    except Exception:
        return False
    return False


@task(name="plan", cache_policy=NO_CACHE)
def plan_task(raw: Path, warehouse: Path) -> stages.Plan:
    return stages.plan(raw, warehouse)


@task(name="read-harmonise-validate", cache_policy=NO_CACHE)
def check_task(batch: Batch) -> Batch:
    """One source; runs wherever the flow's task runner puts it (threads, or a Dask cluster: `dwi run --dask`)."""
    return stages.check([batch], load_reference())[0]


def check_all(p: stages.Plan) -> stages.Plan:
    """A task per changed source, submitted to the flow's task runner; the plan gets the checked batches back."""
    futures = [check_task.with_options(task_run_name=f"check-{b.source.id}").submit(b)
               for b in p.batches if b.status == "pending"]
    checked = {b.source.id: b for b in (f.result() for f in futures)}
    p.batches = [checked.get(b.source.id, b) for b in p.batches]
    return p


@task(name="load-and-build", cache_policy=NO_CACHE, retries=BUSY_RETRIES,
      retry_delay_seconds=config.busy_retry_delay(), retry_condition_fn=_busy)
def load_build_task(p: stages.Plan) -> stages.Plan:
    """One writer session: each source in its own transaction, then the derived objects, then the swap."""
    with writer(p.warehouse) as con:
        stages.load(con, p, flow_run.get_id())
        stages.build(con, p)
    return p


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(warehouse: Path, exports: Path):
    """Exports, report and chart files (skipped when they are up to date with the warehouse)."""
    from dwi.publish import publish

    return publish(warehouse, exports)


def outcome(p: stages.Plan) -> State:
    """The final state of a run: Completed, Completed named "Partial", or Failed, with the reason."""
    rejected = [b for b in p.batches if b.status == "rejected"]
    quarantined = [b for b in p.batches if b.status != "rejected" and b.rows_quarantined]
    loaded = sum(b.rows_loaded for b in p.batches)
    parts = [f"{b.source.id} rejected: {b.message}" for b in rejected]
    parts += [f"{b.source.id}: {b.rows_quarantined} of {b.rows_in} rows quarantined (first: "
              f"{b.issues.filter(b.issues['severity'] == 'error')['message'].first()})" for b in quarantined]
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
    warehouse = Path(warehouse)  # a deployment passes the parameters as strings
    p = plan_task(Path(raw), warehouse)
    for message in p.fetch_failures:
        logger.warning(message)
    if p.nothing_to_do:
        logger.info("nothing changed since the last run; the warehouse was not touched")
    else:
        p = check_all(p)
        if p.needs_writer:
            p = load_build_task(p)
        else:
            logger.warning("every changed source was rejected: the warehouse was not touched")
        for b in p.batches:
            for msg in b.issues.filter(b.issues["severity"] == "error")["message"].to_list()[:20]:
                logger.warning(msg)
    if exports is not None and warehouse.is_file():
        p.published = publish_task(warehouse, Path(exports))
    state = outcome(p)
    (logger.error if state.is_failed() else logger.info)(state.message)
    return state


def run_plan(raw: Path, warehouse: Path, exports: Path | None = None, task_runner=None) -> stages.Plan:
    """Run the flow and return its Plan, whatever the data outcome; errors (busy, disk) are raised.
    `task_runner` (e.g. prefect-dask's DaskTaskRunner) runs the per-source checks elsewhere."""
    job = dwi_run.with_options(task_runner=task_runner) if task_runner is not None else dwi_run
    state = job(raw, warehouse, exports, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result
