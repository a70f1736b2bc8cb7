"""Fault corpus of issue 16, case 11: a killed `dwi validate` left its scratch folder (the checked rows, as
Parquet) in /tmp for good. Its scratch now lives in dwi's own folder there, `dwi-scratch-<uid>/`, one folder
per process, locked while the process runs; the next dwi command that checks files removes the folders of
processes that no longer run, and leaves those in use alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dwi import stages

pytestmark = pytest.mark.reliability
DWI = str(Path(sys.executable).parent / "dwi")
HEADER = "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"


def _scratch(tmp: Path) -> Path:
    return tmp / f"dwi-scratch-{os.getuid()}"


def test_killed_validate_leaves_no_scratch_behind(tmp_path, monkeypatch):
    rows = "".join(
        f"EMP_TOTAL,Kazakhstan,T,{1900 + i % 120},Q{1 + i // 120 % 4},{i},persons,,x,\n" for i in range(60_000)
    )
    big = tmp_path / "big.csv"
    big.write_text(HEADER + rows * 3)
    small = tmp_path / "small.csv"
    small.write_text(HEADER + "EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,x,\n")
    env = {**os.environ, "TMPDIR": str(tmp_path), "DWI_CHUNK_BYTES": str(64 << 10)}
    proc = subprocess.Popen([DWI, "validate", str(big)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while not list(_scratch(tmp_path).glob("*/*/part-*.parquet")):  # checking: rows staged
            assert proc.poll() is None, "validate ended before it was killed: make the file bigger"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (left,) = list(_scratch(tmp_path).iterdir())  # what SIGKILL leaves: nothing could clean up
    assert left.name.startswith(f"{proc.pid}-")
    # the next validate removes it; a process still at work (this one) keeps its folder through the sweep
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with stages.staging(None) as mine:
        assert mine.parent == _scratch(tmp_path)
        out = subprocess.run([DWI, "validate", str(small)], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "Traceback" not in out.stderr
        assert not left.exists()
        assert mine.is_dir()
    assert not mine.exists()
