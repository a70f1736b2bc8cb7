"""The main job as a Prefect flow: plan -> read/harmonise/validate -> load -> build.

Tasks are coarse (plan; read-harmonise-validate once per changed source; one load-and-build) because a
Prefect task costs milliseconds. The per-source checks run on the flow's task runner: threads by default,
an existing Dask cluster with `dwi run --dask ADDRESS` (prefect-dask's DaskTaskRunner).
Validation failures are data, not transient errors: they are never retried.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from dwi import stages
from dwi.batch import Batch
from dwi.reference import load_reference
from dwi.warehouse import writer


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


@task(name="load-and-build", cache_policy=NO_CACHE)
def load_build_task(p: stages.Plan) -> stages.Plan:
    """One writer session: each source in its own transaction, then the derived objects, then the swap."""
    with writer(p.warehouse) as con:
        stages.load(con, p, flow_run.get_id())
        stages.build(con, p)
    return p


@flow(name="dwi-run", log_prints=False, validate_parameters=False)
def dwi_run(raw: Path, warehouse: Path) -> stages.Plan:
    """Load every changed source in raw/ into the warehouse and rebuild the views."""
    logger = get_run_logger()
    p = plan_task(raw, warehouse)
    for message in p.fetch_failures:
        logger.warning(message)
    if p.nothing_to_do:
        logger.info("nothing changed since the last run; the warehouse was not touched")
        return p
    p = check_all(p)
    p = load_build_task(p)
    for b in p.batches:
        for msg in b.issues.filter(b.issues["severity"] == "error")["message"].to_list()[:20]:
            logger.warning(msg)
    return p
