"""Fault corpus of issue 16, case 11: a full disk during `dwi export` or `dwi report` gave exit 5 (an XLSX
export, a traceback) and left `.tmp` files. Now every output file is written to a temporary name and renamed;
a full disk (simulated: the writer writes part of the file, then ENOSPC) is one line, "disk full writing X",
exit 4 (as for the warehouse), no temporary file remains and the previous file is untouched."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import xlsxwriter
from typer.testing import CliRunner

from dwi import stages
from dwi.cli import app
from dwi.errors import EXIT_IO
from dwi.publish import exports
from tests.conftest import make_raw

pytestmark = pytest.mark.reliability
GOOD = (
    "indicator_code,region,sex,year,period,value,unit,obs_status,source_ref,note\n"
    "EMP_TOTAL,Kazakhstan,T,2011,Y,8301600,persons,,corpus,\n"
    "EMP_TOTAL,Kazakhstan,T,2012,Y,8507100,persons,,corpus,\n"
    "UNEMP_RATE,Kazakhstan,T,2011,Y,5.4,percent,,corpus,\n"
)


def _full() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("diskfull")
    wh = base / "wh.duckdb"
    stages.run(make_raw(base, {"obs.csv": GOOD}), wh)
    return wh


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _fails_cleanly(result, folder: Path, before: dict[str, bytes], name: str) -> None:
    assert result.exit_code == EXIT_IO, result.output
    assert f"disk full writing {folder / name}" in result.output
    assert "Traceback" not in result.output
    assert _files(folder) == before  # no .tmp, no partial file, the previous files as they were


def _partly(path: Path) -> None:
    Path(path).write_bytes(b"half a file")
    raise _full()


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "sdmx-csv"])
def test_full_disk_during_an_export(fmt, warehouse, tmp_path, monkeypatch):
    args = ["export", "--format", fmt, "--out", str(tmp_path), "--warehouse", str(warehouse)]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = _files(tmp_path)
    name, _ = exports.WRITERS[fmt]
    monkeypatch.setitem(exports.WRITERS, fmt, (name, lambda values, con, path, meta: _partly(path)))
    _fails_cleanly(CliRunner().invoke(app, args), tmp_path, before, name)


def test_full_disk_during_the_xlsx_export_is_not_a_traceback(warehouse, tmp_path, monkeypatch):
    args = ["export", "--format", "xlsx", "--out", str(tmp_path), "--warehouse", str(warehouse)]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = _files(tmp_path)

    def close(book):  # XlsxWriter wraps the OSError of its zip file in its own FileCreateError
        Path(book.filename).write_bytes(b"PK half a zip")
        raise xlsxwriter.exceptions.FileCreateError(_full())

    monkeypatch.setattr(xlsxwriter.Workbook, "close", close)
    _fails_cleanly(CliRunner().invoke(app, args), tmp_path, before, "decent_work.xlsx")


@pytest.mark.parametrize("target", ["report.html", "charts/"])
def test_full_disk_during_the_report(target, warehouse, tmp_path, monkeypatch):
    args = ["report", "--out", str(tmp_path / "report.html"), "--warehouse", str(warehouse)]
    assert CliRunner().invoke(app, args).exit_code == 0
    before = _files(tmp_path)
    assert any(n.startswith("charts/") and n.endswith(".svg") for n in before)
    write_text = Path.write_text

    def full(path: Path, text: str, *a, **kw):
        if path.name.endswith(".tmp") and (target in str(path) or path.name.startswith(".report.html")):
            if target == "report.html" or path.suffixes[0] == ".svg":
                write_text(path, text[:100], *a, **kw)
                raise _full()
        return write_text(path, text, *a, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == EXIT_IO, result.output
    assert "disk full writing" in result.output and "Traceback" not in result.output
    after = _files(tmp_path)
    assert not [n for n in after if n.endswith(".tmp")]
    assert set(after) == set(before)
    if target == "report.html":
        assert after == before  # the previous report as it was
