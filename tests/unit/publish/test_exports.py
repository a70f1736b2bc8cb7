"""dwi export and the report's data: read back with openpyxl, pyarrow and the csv module.

The fixture warehouse is the embedded raw/ data with three hostile strings planted: a note that is a
spreadsheet formula, a note that starts with '-' and '@', and a source title with HTML and a formula.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dwi import stages
from dwi.cli import app
from dwi.errors import DwiError
from dwi.publish import exports, report
from tests.conftest import ROOT

FORMULA = '=HYPERLINK("http://evil.example","x")'
TITLE = "=1+1 <script>alert('x')</script><!-- National series"


def hostile_raw(base: Path) -> Path:
    raw = base / "raw"
    shutil.copytree(ROOT / "raw", raw)
    national = raw / "review_2012" / "national_series.csv"
    lines = national.read_text(encoding="utf-8").splitlines(keepends=True)
    assert lines[11].startswith("TEMP_EMP,Kazakhstan,T,2005,") and lines[11].rstrip("\n").endswith(",")
    lines[11] = lines[11].rstrip("\n") + '"' + FORMULA.replace('"', '""') + '"\n'
    assert lines[1].startswith("EMP_TOTAL,Kazakhstan,T,2005,") and lines[1].rstrip("\n").endswith(",")
    lines[1] = lines[1].rstrip("\n") + "-1+2 @SUM(A1)\n"
    lines.append("TEMP_EMP,Kazakhstan,T,2006,Y,about 300000,persons,,,a row to quarantine\n")
    national.write_text("".join(lines), encoding="utf-8")
    manifest = raw / "manifest.yaml"
    text = manifest.read_text(encoding="utf-8")
    old = 'title: "National decent-work series 2005-2011 quoted in the review\'s section 2.1"'
    assert old in text
    manifest.write_text(text.replace(old, f'title: "{TITLE}"'), encoding="utf-8")
    return raw


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("export")
    path = base / "dw.duckdb"
    p = stages.run(hostile_raw(base), path)
    assert all(b.status == "loaded" for b in p.batches), [(b.source.id, b.status) for b in p.batches]
    return path


@pytest.fixture(scope="module")
def con(warehouse):
    c = duckdb.connect(str(warehouse), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def out(con, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("out")
    exports.export(con, folder)
    return folder


def test_every_format_is_written(out):
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "decent_work.xlsx",
        "indicator_values.csv",
        "indicator_values.json",
        "indicator_values.parquet",
        "indicator_values.sdmx.csv",
    ]


def test_xlsx_reads_back_with_openpyxl(out):
    book = openpyxl.load_workbook(out / "decent_work.xlsx")
    assert book.sheetnames[:2] == ["README", "indicator_values"]
    assert {"indicators", "regions", "sources", "loads", "quality"} <= set(book.sheetnames)
    ws = book["indicator_values"]
    header = [c.value for c in ws[1]]
    assert header == list(exports.COLUMNS)
    assert ws.freeze_panes == "A2" and book["quality"].freeze_panes == "A2"
    col = {name: i for i, name in enumerate(header)}
    rows = {
        (r[col["indicator_code"]].value, r[col["region_code"]].value, r[col["year"]].value): r
        for r in ws.iter_rows(min_row=2)
    }
    temp = rows[("TEMP_EMP", "KZ", 2005)]
    value = temp[col["value"]]
    assert value.value == 467312 and value.data_type == "n" and value.number_format == "#,##0"
    assert rows[("UNEMP_RATE", "KZ", 2009)][col["value"]].value == pytest.approx(6.6)
    note = temp[col["note"]]
    assert note.value == FORMULA and note.data_type == "s"  # text cell, never a formula
    assert rows[("EMP_TOTAL", "KZ", 2005)][col["note"]].data_type == "s"
    assert not [c.coordinate for s in book for r in s.iter_rows() for c in r if c.data_type == "f"]
    assert ws.column_dimensions["B"].width > 10
    readme = [[c.value for c in r] for r in book["README"].iter_rows()]
    sha = [r for r in readme if r[0] == "review2012_national"]
    assert sha and len(sha[0][3]) == 64 and sha[0][1] == TITLE
    assert any(r[0] == "generated (UTC)" for r in readme)


def test_parquet_reads_back_with_pyarrow(out):
    table = pq.read_table(out / "indicator_values.parquet")
    assert table.schema.names == list(exports.COLUMNS)
    assert str(table.schema.field("value").type) == "double"
    assert str(table.schema.field("year").type) == "int32"
    assert str(table.schema.field("derived").type) == "bool"
    frame = pl.from_arrow(table)
    temp = frame.filter((pl.col("indicator_code") == "TEMP_EMP") & (pl.col("year") == 2005))
    assert temp["value"].to_list() == [467312.0] and temp["source_id"][0] == "review2012_national"
    assert temp["note"][0] == "'" + FORMULA
    meta = json.loads(table.schema.metadata[b"dwi"])
    assert {v["source_id"] for v in meta["vintage"]} >= {"review2012_national", "imf_weo_2024_gdp"}


def test_sdmx_csv_header_and_periods(out):
    with open(out / "indicator_values.sdmx.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "DATAFLOW",
        "FREQ",
        "REF_AREA",
        "INDICATOR",
        "SEX",
        "CLASSIF1",
        "CLASSIF2",
        "DATA_SOURCE",
        "TIME_PERIOD",
        "OBS_VALUE",
        "UNIT_MEASURE",
        "UNIT_MULT",
        "OBS_STATUS",
        "COMMENT_OBS",
    ]
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert {r["DATAFLOW"] for r in body} == {"DWI:DF_DECENT_WORK_KAZ(1.0)"}
    dims = ("REF_AREA", "INDICATOR", "SEX", "CLASSIF1", "CLASSIF2", "DATA_SOURCE", "TIME_PERIOD")
    series = [tuple(r[d] for d in dims) for r in body]
    dupes = {k for k in series if series.count(k) > 1}
    assert not dupes, sorted(dupes)[:5]
    key = {(r["INDICATOR"], r["REF_AREA"], r["TIME_PERIOD"]): r for r in body if not r["DATA_SOURCE"].startswith("d")}
    temp = key[("TEMP_EMP", "KZ", "2005")]
    assert (
        temp["FREQ"],
        temp["SEX"],
        float(temp["OBS_VALUE"]),
        temp["UNIT_MEASURE"],
        temp["OBS_STATUS"],
    ) == ("A", "_T", 467312.0, "PS", "A")
    assert key[("ENT_ATTESTED", "KZ", "2012-S1")]["FREQ"] == "S"
    assert key[("CBA_COVERAGE", "KZ-11", "2012-Q2")]["FREQ"] == "Q"
    assert key[("UNION_ORGS", "KZ", "2012-03")]["FREQ"] == "M"
    gdp = key[("GDP_NOMINAL", "KZ", "2024")]
    assert (gdp["UNIT_MEASURE"], gdp["UNIT_MULT"], gdp["OBS_STATUS"]) == ("KZT", "9", "E")
    assert temp["COMMENT_OBS"] == "'" + FORMULA


def test_csv_neutralises_text_but_not_numbers(out):
    with open(out / "indicator_values.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    notes = {(r["indicator_code"], r["year"]): r["note"] for r in rows if r["region_code"] == "KZ"}
    assert notes[("TEMP_EMP", "2005")] == "'" + FORMULA
    assert notes[("EMP_TOTAL", "2005")] == "'-1+2 @SUM(A1)"
    titles = {r["source_title"] for r in rows if r["source_id"] == "review2012_national"}
    assert titles == {"'" + TITLE}


def test_neutralise_leaves_negative_numbers_alone():
    frame = pl.DataFrame({"value": [-5.5, 3.0], "text": ["-5.5", "plain - text"], "t": ["\tx", "@a"]})
    out = exports.neutralise(frame)
    assert out["value"].to_list() == [-5.5, 3.0] and out["value"].dtype == pl.Float64
    assert out["text"].to_list() == ["'-5.5", "plain - text"]
    assert out["t"].to_list() == ["'\tx", "'@a"]


def test_json_shape(out):
    doc = json.loads((out / "indicator_values.json").read_text(encoding="utf-8"))
    assert set(doc) == {"meta", "indicators", "regions", "series"}
    assert doc["indicators"]["TEMP_EMP"]["unit"] == "persons"
    assert doc["regions"]["KZ-11"]["name_en"] == "Akmola Region"
    temp = [s for s in doc["series"] if s["indicator_code"] == "TEMP_EMP" and s["region_code"] == "KZ"]
    assert len(temp) == 1
    points = {p["time_period"]: p["value"] for p in temp[0]["points"]}
    assert points["2005"] == 467312 and "2006" not in points  # a missing year is absent, never 0


def test_filters_and_unknown_codes(con, tmp_path):
    frame = exports.values_frame(con, ["TEMP_EMP", "CBA_COVERAGE"], ["KZ"])
    assert set(frame["indicator_code"]) == {"TEMP_EMP", "CBA_COVERAGE"} and set(frame["region_code"]) == {"KZ"}
    assert frame.height == 5 + 1
    with pytest.raises(DwiError, match="unknown indicator code.*NOPE"):
        exports.values_frame(con, ["NOPE"])


def test_cli_export(warehouse, tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--format",
            "csv",
            "--format",
            "sdmx-csv",
            "--out",
            str(tmp_path),
            "--indicator",
            "TEMP_EMP",
            "--warehouse",
            str(warehouse),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["indicator_values.csv", "indicator_values.sdmx.csv"]
    assert len((tmp_path / "indicator_values.csv").read_text().splitlines()) == 1 + 5
    bad = CliRunner().invoke(app, ["export", "--format", "pdf", "--out", str(tmp_path), "--warehouse", str(warehouse)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


# --- the report's data -----------------------------------------------------------------------------


def test_report_sections_degrade_when_views_are_missing(con):
    secs = {s.id: s for s in report.sections(con)}
    present = exports.views(con)
    for view, section in (("correlations", "correlations"), ("reconciliation", "reconciliation")):
        if view not in present:
            assert any("not available in this warehouse" in n for n in secs[section].notes)
    assert secs["regional"].charts[0].id == "rank-cba-coverage"


def test_time_series_shows_missing_years_as_gaps(con):
    sec = report.time_series(exports.values_frame(con))
    spec = next(c.spec for c in sec.charts if c.id == "ts-temp-emp")
    values = {r["year"]: r["value"] for r in _data(spec) if r.get("kind") == "annual"}
    assert values[2005] == 467312 and values[2006] is None and values[2007] is None  # gaps, not zeros
    line = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "line")
    assert line["mark"]["invalid"] == "break-paths-filter-domains"
    caption = next(c.caption for c in sec.charts if c.id == "ts-temp-emp")
    assert "No value for 2006-2007 (gap)" in caption


def _data(spec: dict) -> list[dict]:
    """Every inline data row of a chart (Altair hoists shared data into `datasets`)."""
    rows = [row for values in spec.get("datasets", {}).values() for row in values]
    rows += (spec.get("data") or {}).get("values", [])
    return rows + [row for layer in spec.get("layer", [spec]) for row in (layer.get("data") or {}).get("values", [])]


def test_radar_adapter_from_assessments(con):
    frame, origin = report.radar_frame(con)
    assert "_dwcp_assessments" in origin or "scorecard" in origin
    p2 = frame.filter((pl.col("chart_code") == "2") & (pl.col("chart_level") == "priority"))
    grades = dict(zip(p2["axis_code"], p2["grade"], strict=True))
    basis = dict(zip(p2["axis_code"], p2["basis"], strict=True))
    assert grades["2.1"] == 5.5 and len(grades) == 5
    # Outcome 2.2 has no reported grade: the scorecard draws its computed mean (5.0) and says so
    assert grades["2.2"] == 5.0 and basis["2.2"] == "computed"


def test_quality_section_shows_what_was_quarantined_and_why(con):
    sec = report.quality(con)
    # raw/ (the bureau's accepted '63,,4' quarantined) plus this module's one broken review row
    loaded = con.execute("SELECT sum(l.rows_loaded) FROM sources s JOIN loads l USING (load_id)").fetchall()[0][0]
    assert sec.intro.startswith(f"{loaded} rows loaded, 2 quarantined, 0 file(s) rejected")
    issues = sec.tables[-1]
    errors = [dict(zip(issues["columns"], r, strict=True)) for r in issues["rows"] if r[0] == "error"]
    assert sorted((e["source_id"], e["column"]) for e in errors) == [
        ("kazstat_decent_work", "value"),
        ("review2012_national", "value"),
    ]
    review = next(e for e in errors if e["source_id"] == "review2012_national")
    assert "about 300000" in review["message"] and issues["classes"][0] == "error"


def test_script_json_cannot_close_the_script():
    text = report.script_json({"a": "</script><!-- -->", "b": "<b>&"})
    assert "</" not in text and "<!--" not in text and "-->" not in text
    assert json.loads(text) == {"a": "</script><!-- -->", "b": "<b>&"}


def test_report_escapes_data_text(con, tmp_path):
    path = report.write_report(con, tmp_path / "report.html", charts_dir=None)
    html = path.read_text(encoding="utf-8")
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html
    assert "https://" not in html.split("<script>", 1)[0]  # no CDN links in the document head


def test_publish_knows_the_export_file_names():
    from dwi.publish import outputs as publish

    assert publish.EXPORT_FILES == tuple(exports.WRITERS[f][0] for f in exports.FORMATS)
    assert publish.TEMPLATE_DIR == report.TEMPLATE_DIR


def test_unwritable_export_folder_is_one_line(warehouse, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["export", "--out", str(blocker / "sub"), "--warehouse", str(warehouse)])
    assert result.exit_code == 2 and "cannot create the export folder" in result.output
    assert "Traceback" not in result.output
