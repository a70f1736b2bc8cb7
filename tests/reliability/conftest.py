"""Shared fixtures: a real Prefect server (tests/reliability/prefect_server.py), and small warehouses."""

from __future__ import annotations

from tests.reliability.prefect_server import client_home, prefect_api  # noqa: F401  (session fixtures)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "prefect_server: needs the real Prefect server started by the session "
        "(select with -m prefect_server; runs by default)",
    )
    config.addinivalue_line("markers", "reliability: fault injection (bad inputs, kills, concurrency, disk)")
