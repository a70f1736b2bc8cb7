"""The package as a user gets it: the wheel built from this tree, installed (not editable) into a fresh venv,
gives a working `dwi`: `dwi init` makes a project, `dwi run` works in it, empty and with the embedded data, and
the SQL and reference files come from inside the installed package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the tree's tracked files (the build leaves no build/ folder here)."""
    tree, dist = tmp_path_factory.mktemp("tree") / "dwi", tmp_path_factory.mktemp("dist")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in files:
        if (ROOT / name).is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(tree)],
        check=True,
        capture_output=True,
        text=True,
    )
    return next(dist.glob("dwi-*.whl"))


def test_the_wheel_holds_the_package_data_and_no_generic_top_level_names(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"dwi"}  # flows and schemas are installed as dwi.flows and dwi.schemas
    for needed in (
        "dwi/store/sql/schema.sql",
        "dwi/store/sql/marts/observations.sql",
        "dwi/store/sql/marts/_marts.yml",
        "dwi/reference/indicators.yaml",
        "dwi/reference/regions.csv",
        "dwi/reference/project/manifest.yaml",
        "dwi/publish/templates/report.html.j2",
        "dwi/flows/pipeline.py",
        "dwi/schemas/observations.py",
    ):
        assert needed in names, needed
    # every data file of the package (SQL, YAML, CSV, templates) ships, not only the ones named above
    tracked = subprocess.run(["git", "ls-files", "dwi"], cwd=ROOT, capture_output=True, text=True, check=True)
    data = {n for n in tracked.stdout.splitlines() if not n.endswith(".py")}
    assert data - set(names) == set()


def _venv_with_the_wheel(venv: Path, wheel: Path) -> Path:
    """A fresh venv with the wheel installed (not editable). Its dependencies are those of this test run's
    environment, on the path by a `.pth` line (a plain path: the editable install of this tree, whose finder
    is activated by a .pth of that folder, stays out), so the test does not download and unpack about 100
    packages again (minutes in CI); `pip check` then proves the wheel's declared requirements are met."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    install = subprocess.run([*pip, "install", "-q", "--no-deps", str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (Path(site) / "dwi_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    check = subprocess.run([*pip, "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return venv


def test_installed_wheel_inits_and_runs_a_project(wheel, tmp_path, prefect_api, client_home):
    venv = _venv_with_the_wheel(tmp_path / "venv", wheel)
    env = {
        **os.environ,
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(client_home),
        "DWI_EXPORTS": "",
        "DWI_RAW": "",
        "DWI_WAREHOUSE": "",
    }
    dwi = str(venv / "bin" / "dwi")

    def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run([dwi, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

    made = run("init", "project", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "project"
    assert (project / "raw" / "manifest.yaml").is_file() and (project / "README.md").is_file()
    empty = run("run", "--no-exports", cwd=project)
    assert empty.returncode == 0, empty.stdout + empty.stderr
    assert (project / "warehouse" / "decent_work.duckdb").is_file()
    shutil.rmtree(project / "raw")
    shutil.copytree(ROOT / "raw", project / "raw")
    full = run("run", cwd=project)
    assert full.returncode == 0, full.stdout + full.stderr
    assert "Traceback" not in full.stdout + full.stderr
    count = run(
        "sql",
        "select count(*) as n from observations where indicator_code = 'TEMP_EMP'",
        "--format",
        "csv",
        cwd=project,
    )
    assert count.stdout.split() == ["n", "5"], count.stdout + count.stderr
    assert (project / "exports" / "report.html").stat().st_size > 10_000
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import dwi.config as c; print(c.SQL_DIR)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert str(venv) in where.stdout  # the SQL comes from the installed package, not this tree
