"""Scale-out: the flow's per-source checks on an existing Dask cluster (prefect-dask's DaskTaskRunner)."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import RAW

distributed = pytest.importorskip("distributed")


def test_dwi_run_on_a_local_dask_cluster_loads_what_the_plain_run_loads(tmp_path, warehouse, monkeypatch):
    """Every file is checked batch by batch on the cluster (files of a few KB read 1 KB at a time, as a big file
    would be read 64 MiB at a time): more check tasks ran there than there are files."""
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # a busy machine
    monkeypatch.setenv("DWI_CHUNK_BYTES", "1024")
    from dwi.flows.pipeline import dwi_run
    from prefect_dask import DaskTaskRunner

    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with distributed.get_task_stream(client) as stream:
            wh = tmp_path / "dask.duckdb"
            p = dwi_run.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))(RAW, wh)
        ran_on_dask = len(stream.data)
    checked = [b for b in p.batches if b.status in ("loaded", "rejected")]
    assert len(checked) == len(p.batches)
    assert ran_on_dask > 2 * len(p.batches)  # the batches of every file went through the cluster
    query = "SELECT source_id, status, rows_in, rows_loaded, rows_quarantined FROM _loads ORDER BY ALL"
    with duckdb.connect(str(wh), read_only=True) as a, duckdb.connect(str(warehouse), read_only=True) as b:
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        obs = "SELECT * EXCLUDE (load_id) FROM _observations ORDER BY ALL"
        assert a.execute(obs).fetchall() == b.execute(obs).fetchall()
