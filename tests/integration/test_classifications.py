"""Breakdowns (sex, classif1, classif2) stay apart from the file to the outputs: indicator_values, derived
changes, the SDMX-CSV export, the report's charts and the correlations; and every country loaded can be
exported. The file is written here (an ILOSTAT bulk layout with test values, not real statistics): Kazakhstan's
2022 unemployment rate by age, which used to come out as three unlabelled values of one key."""

from __future__ import annotations

import csv

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from dwi.cli import app
from dwi.derive.correlations import one_breakdown
from dwi.publish import exports, report
from dwi.stages import ingest
from tests.conftest import rows

HEADER = "ref_area,source,indicator,sex,classif1,time,obs_value"
AGES = {"AGE_YTHADULT_Y15-24": (3.9, 3.6), "AGE_YTHADULT_YGE25": (5.0, 4.8), "AGE_YTHADULT_Y15-64": (4.9, 4.7)}


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    folder = tmp_path_factory.mktemp("classif")
    lines = [HEADER]
    for age, (v2021, v2022) in AGES.items():
        lines.append(f"KAZ,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_T,{age},2021,{v2021}")
        lines.append(f"KAZ,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_T,{age},2022,{v2022}")
        lines.append(f"KAZ,BA:1,UNE_DEAP_SEX_AGE_RT,SEX_F,{age},2022,{v2022 + 1}")
    lines.append("AFG,BA:2,UNE_DEAP_SEX_AGE_RT,SEX_T,AGE_YTHADULT_Y15-24,2021,14.1")
    path = folder / "UNE_DEAP_SEX_AGE_RT_A.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    warehouse = folder / "wh.duckdb"
    batch = ingest(path, warehouse)
    assert batch.status == "loaded" and batch.rows_quarantined == 0, batch.issues
    return warehouse


@pytest.fixture(scope="module")
def con(wh):
    c = duckdb.connect(str(wh), read_only=True)
    yield c
    c.close()


def test_indicator_values_keep_each_age_group_and_sex_apart(con):
    got = rows(
        con,
        "SELECT classif1, sex, value FROM indicator_values WHERE indicator_code = 'UNE_DEAP_SEX_AGE_RT' "
        "AND country = 'KAZ' AND year = 2022 ORDER BY classif1, sex",
    )
    want = [(age, "T", v[1]) for age, v in AGES.items()] + [(age, "F", v[1] + 1) for age, v in AGES.items()]
    assert got == sorted(want)


def test_changes_are_computed_within_one_age_group(con):
    got = rows(
        con,
        "SELECT classif1, round(value, 6) FROM indicator_values "
        "WHERE indicator_code = 'UNE_DEAP_SEX_AGE_RT_YOY_ABS' AND year = 2022 ORDER BY classif1",
    )
    assert got == sorted((age, round(v[1] - v[0], 6)) for age, v in AGES.items())


def test_sdmx_csv_series_keys_are_unique_and_name_the_age_group(con, tmp_path):
    exports.export(con, tmp_path, ["sdmx-csv"])
    with open(tmp_path / "indicator_values.sdmx.csv", encoding="utf-8", newline="") as fh:
        body = list(csv.DictReader(fh))
    dims = ("REF_AREA", "INDICATOR", "SEX", "CLASSIF1", "CLASSIF2", "DATA_SOURCE", "TIME_PERIOD")
    keys = [tuple(r[d] for d in dims) for r in body]
    assert len(keys) == len(set(keys))
    youth = [r for r in body if r["CLASSIF1"] == "AGE_YTHADULT_Y15-24" and r["TIME_PERIOD"] == "2022"]
    assert {(r["SEX"], float(r["OBS_VALUE"])) for r in youth if r["INDICATOR"] == "UNE_DEAP_SEX_AGE_RT"} == {
        ("_T", 3.6),
        ("F", 4.6),
    }


def test_report_draws_one_line_per_age_group(con):
    section = report.time_series(exports.values_frame(con))
    chart = next(c for c in section.charts if c.title == "UNE_DEAP_SEX_AGE_RT")
    data = [d for layer in chart.spec["layer"] for d in [layer.get("data", {})] if d] or [chart.spec["data"]]
    values = data[0]["values"]
    by_age = {(v["variant"], v["year"]): v["value"] for v in values if v["value"] is not None}
    source = values[0]["variant"].split(",")[0]
    totals = {k: v for k, v in by_age.items() if ", women / " not in k[0]}
    assert totals == {
        (f"{source}, {age}", y): val for age, v in AGES.items() for y, val in zip((2021, 2022), v, strict=True)
    }
    women = {k: v for k, v in by_age.items() if ", women / " in k[0]}  # women are lines of their own
    assert women == {
        (f"{source}, women / AGE_YTHADULT_Y15-24", 2022): 4.6,
        (f"{source}, women / AGE_YTHADULT_Y15-64", 2022): 5.7,
        (f"{source}, women / AGE_YTHADULT_YGE25", 2022): 5.8,
    }
    assert "6 series (sources, vintages or breakdowns), one line each" in chart.caption


def test_correlation_series_use_one_breakdown_never_a_mix():
    frame = pl.DataFrame(
        {"year": [2021, 2021, 2022], "classif1": ["A", "B", "A"], "classif2": [None, None, None], "value": [1, 2, 3]}
    )
    assert one_breakdown(frame)["classif1"].to_list() == ["A", "A"]
    with_total = frame.vstack(pl.DataFrame({"year": [2021], "classif1": [None], "classif2": [None], "value": [9]}))
    assert one_breakdown(with_total)["value"].to_list() == [9]


def test_countries_view_lists_every_country_loaded(con):
    assert rows(con, "SELECT code, name, observations, first_year, last_year FROM countries ORDER BY code") == [
        ("AFG", "Afghanistan", 1, 2021, 2021),
        ("KAZ", "Kazakhstan", 9, 2021, 2022),
    ]


def test_export_by_region_or_country_for_any_country_loaded(wh, tmp_path):
    runner = CliRunner()
    for option in ("--region", "--country"):
        out = tmp_path / option.strip("-")
        result = runner.invoke(
            app, ["export", "--format", "csv", option, "AFG", "--out", str(out), "--warehouse", str(wh)]
        )
        assert result.exit_code == 0, result.output
        frame = pl.read_csv(out / "indicator_values.csv")
        assert frame.select("country", "region_code", "region_name", "classif1", "value").rows() == [
            ("AFG", "AFG", "Afghanistan", "AGE_YTHADULT_Y15-24", 14.1)
        ]
    bad = runner.invoke(app, ["export", "--country", "ATL", "--out", str(tmp_path / "x"), "--warehouse", str(wh)])
    assert bad.exit_code != 0 and "unknown country code(s): ATL" in bad.output


def test_report_for_another_country_loaded(wh, tmp_path):
    runner = CliRunner()
    path = tmp_path / "afg.html"
    args = ["report", "--country", "AFG", "--no-charts", "--out", str(path), "--warehouse", str(wh)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    html = path.read_text(encoding="utf-8")
    assert "UNE_DEAP_SEX_AGE_RT" in html and "14.1" in html
    bad = runner.invoke(app, ["report", "--country", "ATL", "--out", str(tmp_path / "x.html"), "--warehouse", str(wh)])
    assert bad.exit_code != 0 and "unknown country code(s): ATL" in bad.output
