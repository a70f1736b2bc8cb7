"""The report, the exports and the run summary on the real derived views (indicator_values,
correlations, reconciliation, dwcp_scores and dwi.derive.scorecard.radar_series) of the review's data."""

from __future__ import annotations

import os
import re

import openpyxl
import polars as pl
import pytest
import vl_convert

from dwi.publish import exports, report
from dwi.publish import outputs as publish
from tests.conftest import rows


def test_exports_use_indicator_values(db, tmp_path):
    frame = exports.values_frame(db, ["OSH_ADOPTION_PER_1000"])
    assert frame.height == 16 and frame["derived"].all()  # 16 regions, never the national total
    akmola = frame.filter(pl.col("region_code") == "KZ-11")["value"][0]
    assert akmola == pytest.approx(61 / (60 + 274 + 4246) * 1000)
    exports.export(db, tmp_path, ["xlsx", "sdmx-csv"])
    book = openpyxl.load_workbook(tmp_path / "decent_work.xlsx")
    assert {"correlations", "reconciliation", "dwcp_scores"} <= set(book.sheetnames)
    sdmx = (tmp_path / "indicator_values.sdmx.csv").read_text(encoding="utf-8")
    assert "OSH_ADOPTION_PER_1000,_T,_Z,_Z,derived/" in sdmx and ",2011," in sdmx


def test_report_sections_with_every_view(db):
    secs = {s.id: s for s in report.sections(db)}
    assert [c.id for c in secs["regional"].charts][:2] == ["rank-cba-coverage", "rank-osh-adoption-per-1000"]
    corr = secs["correlations"].charts
    assert any("n = 16" in c.caption for c in corr)
    inconsistent = rows(db, "SELECT count(*) FROM reconciliation WHERE verdict = 'inconsistent'")[0][0]
    assert f"inconsistent: {inconsistent}" in secs["reconciliation"].intro
    assert "revised: 1" in secs["reconciliation"].intro and "inconclusive: " in secs["reconciliation"].intro
    table = secs["reconciliation"].tables[0]
    assert "relation" in table["columns"] and table["classes"][0] == "inconsistent"  # the findings first
    gdp = secs["national"].charts
    growth = next(c for c in gdp if c.id == "ts-gdp-growth")
    assert "one line each" in growth.caption and "derived from imf_weo_2024_gdp" in growth.caption
    unemp = next(c for c in gdp if c.id == "ts-unemp-rate")
    assert "2008 implied" in unemp.caption
    radars = secs["scorecard"]
    assert len(radars.charts) == 14  # 11 outcomes + 3 priorities, like the review's Figures 6-16
    for chart in (corr[0], radars.charts[0]):
        svg = vl_convert.vegalite_to_svg(chart.spec)
        assert svg.count("<path") > 5


def test_run_summary_facts(warehouse):
    facts = publish.facts(warehouse)
    assert facts["sources"].startswith("10 (10 loaded")
    assert facts["rows quarantined"] == "1"  # the bureau's '63,,4'
    assert "inconsistent" in facts["findings"] and "correlation" in facts["findings"]


def test_scatter_points_are_kazakhstan_regions_in_a_stable_order():
    """A correlation's scatter takes each Kazakh region's latest pair of values, never another country's
    area (an all-countries ILOSTAT file gives region_code = the area's ISO3 code), sorted by label."""
    values = pl.DataFrame(
        {
            "indicator_code": ["X", "Y"] * 4,
            "sex": ["T"] * 8,
            "region_code": ["KZ-15", "KZ-15", "KZ-11", "KZ-11", "AUT", "AUT", "KZ", "KZ"],
            "region_name": ["Aktobe Region"] * 2 + ["Akmola Region"] * 2 + ["Austria"] * 2 + ["Kazakhstan"] * 2,
            "year": [2011] * 8,
            "period": ["Y"] * 8,
            "value": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        }
    )
    points = report._pairs(values, "X", "Y", "regions")
    assert points.to_dicts() == [
        {"label": "Akmola Region", "x": 3.0, "y": 4.0},
        {"label": "Aktobe Region", "x": 1.0, "y": 2.0},
    ]


def test_vega_bundle_is_built_once_per_vl_convert_version(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(vl_convert, "javascript_bundle", lambda **kw: calls.append(kw) or "/* vega */")
    assert report.vega_bundle() == "/* vega */" and report.vega_bundle() == "/* vega */"
    assert len(calls) == 1  # the second report read it from the cache
    assert [p.name for p in (tmp_path / "dwi").iterdir()] == [
        f"vega-bundle-{vl_convert.__version__}-vl{report.VL_VERSION}.js"
    ]


def test_chart_svgs_are_rendered_once_per_spec(tmp_path, monkeypatch):
    """A run re-renders only the charts whose spec (data included) changed; the cache drops stale SVGs."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", lambda spec, **kw: calls.append(spec) or f"<svg>{spec}</svg>")
    one, two = {"mark": "bar", "data": {"values": [{"x": 1}]}}, {"mark": "bar", "data": {"values": [{"x": 2}]}}
    assert report.svg(one) == report.svg(dict(reversed(one.items()))) == f"<svg>{one}</svg>"
    assert report.svg(two) == f"<svg>{two}</svg>"
    assert calls == [one, two]  # the same spec twice: rendered once; other data: rendered again
    cached = sorted((tmp_path / "dwi" / "svg").glob("*.svg"))
    assert len(cached) == 2
    os.utime(cached[0], (0, 0))  # unused for decades
    report._prune(tmp_path / "dwi" / "svg")
    assert sorted((tmp_path / "dwi" / "svg").glob("*.svg")) == cached[1:]


def test_exports_name_the_unprinted_statuses(db):
    """UNEMP_RATE 2008 (implied) and LONG_HOURS_EMP 2011 (corrected) keep their status in the exports;
    SDMX-CSV, which has no such codes, writes I (imputed) and A, naming the status in COMMENT_OBS."""
    values = exports.values_frame(db, ["UNEMP_RATE", "LONG_HOURS_EMP"])
    status = {(r["indicator_code"], r["year"]): r["obs_status"] for r in values.iter_rows(named=True)}
    assert status[("UNEMP_RATE", 2008)] == "implied" and status[("UNEMP_RATE", 2009)] is None
    assert status[("LONG_HOURS_EMP", 2011)] == "corrected"
    sdmx = {(r["INDICATOR"], r["TIME_PERIOD"]): r for r in exports.sdmx_frame(values).iter_rows(named=True)}
    implied = sdmx[("UNEMP_RATE", "2008")]
    assert implied["OBS_STATUS"] == "I" and implied["COMMENT_OBS"].startswith("dwi status implied")
    corrected = sdmx[("LONG_HOURS_EMP", "2011")]
    assert corrected["OBS_STATUS"] == "A" and corrected["COMMENT_OBS"].startswith("dwi status corrected")
    assert sdmx[("UNEMP_RATE", "2009")]["OBS_STATUS"] == "A"


def test_table3_stocks_and_flow_carry_their_reference(db):
    measure = dict(rows(db, "SELECT code, measure FROM indicators WHERE code LIKE 'ENT_%'"))
    assert measure["ENT_SMALL"] == "stock" and measure["ENT_OSH_STANDARD"] == "flow"
    notes = dict(
        rows(
            db,
            "SELECT DISTINCT indicator_code, note FROM observations WHERE source_id = 'review2012_table3'",
        )
    )
    assert (
        notes["ENT_SMALL"].startswith("stock as of 2012-01-01")
        and notes["ENT_OSH_STANDARD"] == "flow: results for 2011"
    )


def test_overview_change_keeps_one_source_and_names_its_span(db):
    """UNEMP_RATE 2009 against the implied 2008 would be a zero change that was never printed: none is shown;
    EMP_TOTAL's change is over 6 years (2005-2011), and says so."""
    sec = report.overview(exports.values_frame(db))
    got = {r[0]: dict(zip(t["columns"], r, strict=True)) for t in sec.tables for r in t["rows"]}
    assert got["UNEMP_RATE"]["change"] == "" and got["UNEMP_RATE"]["previous period"] == ""
    assert (got["EMP_TOTAL"]["previous period"], got["EMP_TOTAL"]["span, years"]) == ("2005", "6")
    assert "latest value corrected" in got["LONG_HOURS_EMP"]["basis"]


def test_a_single_value_is_a_number_and_a_break_in_series_is_marked(db):
    sec = report.time_series(exports.values_frame(db))
    single = next(t for t in sec.tables if t["caption"].startswith("Indicators with a single national value"))
    codes = [row[0] for row in single["rows"]]
    charted = {c.title for c in sec.charts}
    assert codes and not set(codes) & charted  # each indicator either a number or a chart, never both
    national = exports.values_frame(db).filter((pl.col("region_code") == "KZ") & (pl.col("sex").fill_null("T") == "T"))
    counts = national.group_by("indicator_code").len()
    ones = set(counts.filter(pl.col("len") == 1)["indicator_code"].to_list())
    assert set(codes) == ones & set(national.filter(pl.col("indicator_name").is_not_null())["indicator_code"])
    spec = next(c.spec for c in sec.charts)
    assert any("indexof(datum.obs_status" in str(layer.get("transform", "")) for layer in spec["layer"])


def test_a_report_removes_only_the_charts_it_wrote(db, tmp_path, monkeypatch):
    """Issue 16 item 5: `dwi report --out X/report.html` deleted every *.svg in X/charts, the user's too."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(vl_convert, "vegalite_to_svg", lambda spec, **kw: "<svg/>")
    charts = tmp_path / "charts"
    charts.mkdir()
    (charts / "mine.svg").write_text("<svg>the user's own</svg>", encoding="utf-8")
    report.write_report(db, tmp_path / "report.html", charts_dir=charts)
    written = set((charts / report.CHART_INDEX).read_text(encoding="utf-8").split())
    assert len(written) > 10 and "mine.svg" not in written
    # a chart an earlier report wrote and this one no longer draws goes; the user's file stays
    (charts / "gone-chart.svg").write_text("<svg/>", encoding="utf-8")
    (charts / report.CHART_INDEX).write_text("gone-chart.svg\n../outside.svg\n", encoding="utf-8")
    (tmp_path / "outside.svg").write_text("<svg/>", encoding="utf-8")
    report.write_report(db, tmp_path / "report.html", charts_dir=charts)
    assert not (charts / "gone-chart.svg").exists()
    assert (charts / "mine.svg").read_text(encoding="utf-8") == "<svg>the user's own</svg>"
    assert (tmp_path / "outside.svg").exists()  # an index line that is not a plain file name is ignored
    assert {p.name for p in charts.glob("*.svg")} == written | {"mine.svg"}


def test_national_charts_draw_one_line_per_sex(db):
    """The bureau's unemployment rate by sex: three lines (total, men, women), never one merged line."""
    secs = {s.id: s for s in report.sections(db)}
    (chart,) = [c for c in secs["national"].charts if c.id == "ts-kzs-dec4e96da8"]
    variants = set(re.findall(r"'variant': '([^']*)'", str(chart.spec)))
    assert variants == {f"kazstat_decent_work, {c}" for c in ("total", "men", "women")}
