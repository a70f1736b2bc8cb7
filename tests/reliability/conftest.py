"""Markers of the reliability tests (the Prefect server fixtures are in tests/conftest.py)."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "prefect_server: needs the real Prefect server started by the session "
        "(select with -m prefect_server; runs by default)",
    )
    config.addinivalue_line("markers", "reliability: fault injection (bad inputs, kills, concurrency, disk)")
