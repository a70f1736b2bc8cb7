"""bench/: the generator is deterministic and keeps T = M + F exactly; the benchmark runs end to end at 5k rows.
No timing is asserted here (timings live in bench/RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys

import polars as pl

from bench.generate import generate
from tests.conftest import ROOT


def test_generator_is_deterministic_and_ilostat_shaped(tmp_path):
    a, b = generate(3_001, tmp_path / "a.csv"), generate(3_001, tmp_path / "b.csv")
    assert a.read_bytes() == b.read_bytes()
    assert generate(3_001, tmp_path / "c.csv", seed=1).read_bytes() != a.read_bytes()
    frame = pl.read_csv(a, infer_schema=False)
    assert frame.height == 3_001
    assert frame.columns == [
        "ref_area",
        "source",
        "indicator",
        "sex",
        "classif1",
        "time",
        "obs_value",
        "obs_status",
        "note_classif",
        "note_indicator",
        "note_source",
    ]
    assert frame["obs_value"].str.contains(r"^\d+\.\d{3}$").all()  # decimals, written as such
    assert set(frame["sex"]) == {"SEX_T", "SEX_M", "SEX_F"}
    assert frame["time"].cast(pl.Int32).is_between(2000, 2024).all()
    key = ["ref_area", "indicator", "classif1", "time"]
    assert frame.select(key + ["sex"]).is_unique().all()


def test_totals_are_exactly_male_plus_female(tmp_path):
    frame = pl.read_csv(generate(30_000, tmp_path / "g.csv"), infer_schema=False)
    thousandths = pl.col("obs_value").str.replace(".", "", literal=True).cast(pl.Int64)
    wide = frame.with_columns(thousandths.alias("v")).pivot(
        "sex", index=["ref_area", "indicator", "classif1", "time"], values="v"
    )
    assert wide.height == 10_000
    assert (wide["SEX_T"] == wide["SEX_M"] + wide["SEX_F"]).all()


def test_generator_reaches_back_before_1991_for_big_files():
    from bench.generate import PER_YEAR, years

    assert years(3_000) == list(range(2000, 2025))  # up to 25 years hold 3 x PER_YEAR x 25 rows
    span = years(100_000_000)
    assert span[-1] == 2024 and len(span) * 3 * PER_YEAR >= 100_000_000 and span[0] < 1900


def test_quick_benchmark_prints_the_ratios(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out), "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for ratio in ("d/a", "d'/a (1% broken)", "dwi run / one-task flow"):
        assert f"ratio {ratio}: " in proc.stdout
    text = out.read_text()
    assert "| (d) dwi ingest, Prefect server running | 1 |" in text and "peak RSS MiB" in text
