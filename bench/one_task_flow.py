"""The reference for `dwi run`'s overhead: a Prefect flow with one task that does nothing, run the way the
`dwi` command runs its flow (same logging settings)."""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402


@task(name="nothing", cache_policy=NO_CACHE)
def nothing() -> int:
    return 0


@flow(name="one-task", validate_parameters=False)
def one_task() -> int:
    return nothing()


if __name__ == "__main__":
    one_task()
