"""The report, the exports and the run summary against the views other issues add (indicator_values,
correlations, reconciliation, dwcp_scores, dwi.scorecard.radar_series), built here to their contracts."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
import vl_convert

from dwi import exports, publish, report, stages

ROOT = Path(__file__).resolve().parent.parent

VIEWS = """
CREATE VIEW indicator_values AS
SELECT indicator_code, region_code, sex, year, period, value, unit, FALSE AS derived, NULL AS method,
       obs_status, source_id, load_id, source_ref, note
FROM observations
UNION ALL
SELECT 'OSH_ADOPTION_PER_1000', o.region_code, 'T', 2011, 'Y', o.value / a.value * 1000,
       'per 1000 enterprises', TRUE, 'ENT_OSH_STANDARD (2011) / ENT_ACTIVE (2012 Q2) * 1000',
       NULL, NULL, NULL, NULL, NULL
FROM observations o JOIN observations a ON a.region_code = o.region_code AND a.indicator_code = 'ENT_ACTIVE'
WHERE o.indicator_code = 'ENT_OSH_STANDARD';
CREATE VIEW correlations AS
SELECT 'CBA_COVERAGE' AS x_indicator, 'OSH_ADOPTION_PER_1000' AS y_indicator, 'regions' AS scope,
       'latest value per region' AS observations_used, 16 AS n, 0.41 AS pearson_r, 0.11 AS pearson_p,
       -0.1 AS pearson_ci_low, 0.75 AS pearson_ci_high, 0.38 AS spearman_rho, 0.14 AS spearman_p,
       NULL::DOUBLE AS diff_pearson_r, NULL::INTEGER AS diff_n, 'small n' AS flags;
CREATE VIEW reconciliation AS
SELECT * FROM (VALUES ('table5 total = sum of regions', 53336.0, 53336.0, 0.5, 'consistent', 'exact'),
                      ('<b>share</b> from counts', 6.4, 6.9, 0.05, 'inconsistent', 'off by 0.5 pp'))
    t("check", reported, recomputed, tolerance, verdict, detail);
CREATE VIEW dwcp_scores AS
SELECT * FROM (VALUES ('priority', '2', 'Promotion of efficient employment', 5.03, 5.2, -0.17, 'inconsistent',
                       'mean of outcomes')) t(level, code, title, computed_grade, reported_grade, difference,
                                              verdict, note);
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("contracts")
    path = base / "dw.duckdb"
    stages.run(ROOT / "raw", path)
    con = duckdb.connect(str(path))
    con.execute(VIEWS)
    con.close()
    return path


@pytest.fixture()
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


@pytest.fixture()
def scorecard(monkeypatch):
    """A stand-in dwi.scorecard whose radar_series gives computed and reported grades for priority 2."""

    def radar_series(con) -> pl.DataFrame:
        axes = ["2.1", "2.2", "2.3", "2.4", "2.5"]
        reported = [5.5, None, 4.5, 4.8, 5.3]
        computed = [5.4, 5.0, 4.6, 4.8, 5.1]
        rows = [
            ("KAZ", "2", "priority", "Employment", a, f"outcome {a}", g, basis)
            for basis, grades in (("reported", reported), ("computed", computed))
            for a, g in zip(axes, grades, strict=True)
        ]
        return pl.DataFrame(
            rows,
            orient="row",
            schema=[
                "programme",
                "chart_code",
                "chart_level",
                "chart_title",
                "axis_code",
                "axis_label",
                "grade",
                "basis",
            ],
        )

    module = types.ModuleType("dwi.scorecard")
    module.radar_series = radar_series
    monkeypatch.setitem(sys.modules, "dwi.scorecard", module)


def test_exports_use_indicator_values(con, tmp_path):
    frame = exports.values_frame(con, ["OSH_ADOPTION_PER_1000"])
    assert frame.height == 17 and frame["derived"].all()
    assert frame["method"][0].startswith("ENT_OSH_STANDARD")
    osh, active = (
        con.execute(
            "SELECT value FROM observations WHERE region_code = 'KZ-11' AND indicator_code = ?", [code]
        ).fetchall()[0][0]
        for code in ("ENT_OSH_STANDARD", "ENT_ACTIVE")
    )
    assert frame.filter(pl.col("region_code") == "KZ-11")["value"][0] == pytest.approx(osh / active * 1000)
    exports.export(con, tmp_path, ["xlsx", "sdmx-csv"])
    book = openpyxl.load_workbook(tmp_path / "decent_work.xlsx")
    assert {"correlations", "reconciliation", "dwcp_scores"} <= set(book.sheetnames)
    sdmx = (tmp_path / "indicator_values.sdmx.csv").read_text(encoding="utf-8")
    assert "OSH_ADOPTION_PER_1000,_T,2011," in sdmx and "derived: ENT_OSH_STANDARD" in sdmx


def test_report_sections_with_every_view(con, scorecard):
    secs = {s.id: s for s in report.sections(con)}
    assert [c.id for c in secs["regional"].charts][:2] == ["rank-cba-coverage", "rank-osh-adoption-per-1000"]
    corr = secs["correlations"].charts
    assert len(corr) == 1 and "n = 16, r = 0.41 (95% CI -0.1 to 0.75)" in corr[0].caption
    assert "n = 16, r = 0.41" in corr[0].spec["title"]["subtitle"][0]  # on the chart itself
    table = secs["reconciliation"].tables[0]
    assert (
        table["classes"] == ["consistent", "inconsistent"]
        and "inconsistent: 1" in secs["reconciliation"].intro
    )
    radars = secs["scorecard"]
    assert "dwi.scorecard" in radars.intro and len(radars.charts) == 1
    assert "4 of 5 axes graded (reported); 5 of 5 axes graded (computed)" in radars.charts[0].caption
    assert radars.tables and radars.tables[0]["rows"][0][1] == "2"
    for chart in (corr[0], radars.charts[0]):
        svg = vl_convert.vegalite_to_svg(chart.spec)
        assert svg.count("<path") > 5


def test_report_html_escapes_view_text(con, tmp_path, scorecard):
    html = report.write_report(con, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<b>share</b>" not in html and "&lt;b&gt;share&lt;/b&gt;" in html


def test_run_summary_facts(warehouse):
    facts = publish.facts(warehouse)
    assert facts["sources"].startswith("9 (9 loaded")
    assert facts["rows loaded"] == "338" and facts["rows quarantined"] == "0"
    assert facts["indicators computed"] == "1 (17 values)"
    assert "reconciliation: 1 consistent, 1 inconsistent" in facts["findings"]
    assert "1 correlation(s)" in facts["findings"]
