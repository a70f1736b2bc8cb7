"""The report in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Installed by scripts/setup-browser.sh (called from scripts/test.sh); `playwright install` is never used.
The outputs come from dwi.publish.publish(), what `dwi run` calls after the flow.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dwi import stages
from dwi.publish.outputs import CHARTS, REPORT, publish
from tests.conftest import ROOT
from tests.unit.publish.test_exports import hostile_raw

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
MARKS = "g.role-mark > path, g.role-mark > text, g.role-mark > line, g.role-mark > rect, g.role-mark > circle"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    base = tmp_path_factory.mktemp("publish")
    warehouse = base / "dw.duckdb"
    stages.run(hostile_raw(base), warehouse)
    folder = base / "exports"
    first = publish(warehouse, folder)
    return warehouse, folder, first


def test_publish_writes_everything_once(published):
    warehouse, folder, first = published
    assert not first.skipped and first.report == folder / REPORT
    assert len(first.files) == 5 and all(p.is_file() for p in first.files)
    svgs = sorted((folder / CHARTS).glob("*.svg"))
    assert len(svgs) == first.charts > 30
    assert "ts-temp-emp.svg" in {p.name for p in svgs} and svgs[0].read_text().lstrip().startswith("<svg")
    before = {p: p.stat().st_mtime_ns for p in [*first.files, first.report]}
    again = publish(warehouse, folder)  # the warehouse did not change: nothing is rewritten
    assert again.skipped
    assert {p: p.stat().st_mtime_ns for p in before} == before


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/setup-browser.sh")
def test_report_renders_offline_in_chromium(published):
    from playwright.sync_api import sync_playwright

    _warehouse, folder, first = published
    url = (folder / REPORT).as_uri()
    console_errors, blocked, dialogs = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            def route(r):
                if r.request.url == url:
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(url)
            page.wait_for_function(
                "window.dwiCharts && window.dwiCharts.rendered + window.dwiCharts.failed === window.dwiCharts.expected",
                timeout=120_000,
            )
            state = page.evaluate("window.dwiCharts")
            marks = page.evaluate(
                "(sel) => Object.fromEntries(Array.from(document.querySelectorAll('div.chart')).map("
                "el => [el.id, el.querySelectorAll(sel).length]))",
                MARKS,
            )
            bars = page.evaluate("document.querySelectorAll('#rank-cba-coverage g.mark-rect.role-mark > path').length")
            temp_line = page.evaluate(
                "document.querySelector('#ts-temp-emp g.mark-line.role-mark > path').getAttribute('d')"
            )
            temp_points = page.evaluate(
                "document.querySelectorAll('#ts-temp-emp g.mark-symbol.role-mark > path').length"
            )
            out = ROOT / "test-artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "report.png"), full_page=True)
        finally:
            browser.close()
    assert console_errors == [] and dialogs == []
    assert blocked == []  # the page asked for nothing but itself
    assert state["failed"] == 0 and state["rendered"] == state["expected"] == first.charts
    assert len(marks) == first.charts and not [cid for cid, n in marks.items() if n == 0], marks
    assert bars == 16  # one bar per region of Table 5
    assert temp_points == 5  # TEMP_EMP: 2005, 2008-2011
    assert temp_line.count("M") == 2  # the line breaks over 2006-2007 (the gap) instead of joining 2005 to 2008
    assert (ROOT / "test-artifacts" / "report.png").stat().st_size > 10_000
    assert os.path.getsize(folder / REPORT) > 500_000  # the Vega bundle is inside the file
