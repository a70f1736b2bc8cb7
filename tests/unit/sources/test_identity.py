"""A source is a dataset, not a file-name prefix (issue 13, deliver 1; issue 16, items 3, 4 and 7).

Identity comes from the content (dwi.formats.identify); a file-based fallback never clashes; a new download of
a dataset is a new vintage whose removed rows are listed in `revisions`; a fully quarantined vintage is
rejected; a source dropped from the manifest is retired. One small fixture per case (tests/fixtures/identity)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from dwi import formats, stages
from dwi.cli import app
from dwi.errors import DwiError
from dwi.sources.manifest import load_manifest
from tests.conftest import FIXTURES, RAW, rows

FIX = FIXTURES / "identity"
UNE_1 = FIX / "UNE_2EAP_SEX_AGE_RT_A-20240725T0039.csv"
UNE_2 = FIX / "UNE_2EAP_SEX_AGE_RT_A-20241120T1012.csv"
UNE_BAD = FIX / "UNE_2EAP_SEX_AGE_RT_A-20250101T0000.csv"
UNE_Q = FIX / "UNE_2EAP_SEX_AGE_RT_Q-20240725T0039.csv"
GDP_1 = FIX / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_1.csv"
GDP_PC = FIX / "API_NY.GDP.PCAP.CD_DS2_en_csv_v2_2.csv"
GDP_2 = FIX / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_7.csv"


def ident(path: Path):
    return formats.identify(path, formats.detect(path))


def test_ilostat_identity_is_the_indicator_and_frequency_whatever_the_date_stamp():
    assert ident(UNE_1).key == ident(UNE_2).key == "ilostat:UNE_2EAP_SEX_AGE_RT:A"
    assert ident(UNE_1).name == "une_2eap_sex_age_rt_a"
    assert ident(UNE_Q).key == "ilostat:UNE_2EAP_SEX_AGE_RT:Q"


def test_world_bank_identity_is_the_indicator_code_not_the_file_prefix():
    assert ident(GDP_1).key == ident(GDP_2).key == "worldbank:NY.GDP.MKTP.CD"
    assert ident(GDP_PC).key == "worldbank:NY.GDP.PCAP.CD"
    assert (ident(GDP_1).name, ident(GDP_PC).name) == ("ny_gdp_mktp_cd", "ny_gdp_pcap_cd")


def test_spreadsheet_identity_is_the_table_title():
    table4 = FIXTURES / "readers" / "good" / "table4_regions.xlsx"
    found = ident(table4)
    assert found.key.startswith("table:отчет об информационно-разъяснительной работе")
    assert found.title.startswith("Отчет об")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FIX / "занятость.csv", FIX / "безработица.csv"),  # names without an ASCII letter
        (FIX / "a" / "data.csv", FIX / "b" / "data.csv"),  # one name in two folders
    ],
)
def test_file_identity_of_two_files_never_clashes(first, second):
    one, two = ident(first), ident(second)
    assert one.key != two.key
    assert one.name not in ("", "ingested")


def test_file_identity_keeps_letters_of_any_script():
    assert ident(FIX / "занятость.csv").name == "занятость"
    assert ident(FIX / "безработица.csv").name == "безработица"


# --- dwi ingest: which source a file loads into, and what its vintage does ---------------------------------


def query(wh: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return rows(con, sql)
    finally:
        con.close()


def ingest_all(wh: Path, *files: Path, **kw) -> list:
    return [stages.ingest(f, wh, **kw) for f in files]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FIX / "занятость.csv", FIX / "безработица.csv"),  # before: both 'ingested', the first one's row hidden
        (FIX / "a" / "data.csv", FIX / "b" / "data.csv"),  # before: both 'data'
        (GDP_1, GDP_PC),  # before: both 'api_ny' (the file-name prefix)
    ],
)
def test_two_datasets_are_two_sources_and_both_stay_visible(tmp_path, first, second):
    wh = tmp_path / "wh.duckdb"
    one, two = ingest_all(wh, first, second)
    assert one.source.id != two.source.id
    assert two.outcome == f"new source '{two.source.id}'"
    counts = dict(query(wh, "SELECT source_id, count(*) FROM observations GROUP BY ALL"))
    assert counts == {one.source.id: one.rows_loaded, two.source.id: two.rows_loaded}
    assert one.rows_loaded > 0 and two.rows_loaded > 0


def test_a_file_named_like_a_listed_source_does_not_take_it_over(tmp_path):
    wh = tmp_path / "wh.duckdb"
    stages.run(RAW, wh)
    before = query(wh, "SELECT count(*), sum(value) FROM observations WHERE source_id = 'reported_gdp_growth'")
    named = tmp_path / "reported_gdp_growth.csv"  # a tidy file, unrelated to the manifest's source of that id
    shutil.copy(FIX / "a" / "data.csv", named)
    batch = stages.ingest(named, wh)
    assert batch.source.id.startswith("reported_gdp_growth_") and batch.outcome.startswith("new source")
    assert query(wh, "SELECT count(*), sum(value) FROM observations WHERE source_id = 'reported_gdp_growth'") == before


def test_a_later_ilostat_download_is_a_new_vintage_listing_what_changed_appeared_and_went(tmp_path):
    wh = tmp_path / "wh.duckdb"
    first, second = ingest_all(wh, UNE_1, UNE_2)
    assert first.source.id == second.source.id == "une_2eap_sex_age_rt_a"
    assert first.outcome == "new source 'une_2eap_sex_age_rt_a'"
    assert second.outcome == "new vintage of 'une_2eap_sex_age_rt_a' (1 changed, 1 added, 1 removed)"
    assert query(wh, "SELECT count(*) FROM observations") == [(4,)]  # one vintage shown, not 4 + 4
    revised = query(
        wh, "SELECT change, country, year, old_value, new_value FROM revisions ORDER BY change, country, year"
    )
    assert revised == [
        ("added", "KAZ", 2021, None, 4.9),
        ("changed", "KAZ", 2020, 4.9, 5.0),
        ("removed", "UZB", 2020, 7.0, None),  # the dropped row says so: new_value empty
    ]


def test_a_later_world_bank_download_of_the_same_indicator_is_a_new_vintage(tmp_path):
    wh = tmp_path / "wh.duckdb"
    first, second = ingest_all(wh, GDP_1, GDP_2)
    assert first.source.id == second.source.id == "ny_gdp_mktp_cd"
    assert second.outcome == "new vintage of 'ny_gdp_mktp_cd' (1 changed, 0 added, 0 removed)"
    assert query(wh, "SELECT old_value, new_value FROM revisions WHERE country = 'UZB' AND year = 2021") == [
        (69239000000.0, 69600000000.0)
    ]


def test_a_rerun_on_unchanged_input_changes_nothing(tmp_path):
    wh = tmp_path / "wh.duckdb"
    ingest_all(wh, UNE_1, UNE_2)
    before = wh.read_bytes()
    again = stages.ingest(UNE_2, wh)
    assert (
        again.status == "unchanged" and again.outcome == "unchanged: already loaded as source 'une_2eap_sex_age_rt_a'"
    )
    assert wh.read_bytes() == before


def test_a_fully_quarantined_vintage_is_rejected_and_the_previous_one_stays_current(tmp_path):
    wh = tmp_path / "wh.duckdb"
    good, bad = ingest_all(wh, UNE_1, UNE_BAD)
    assert bad.status == "rejected" and bad.rows_quarantined == 2
    assert bad.outcome == f"rejected; vintage {1} of 'une_2eap_sex_age_rt_a' stays current"
    assert query(wh, "SELECT count(*), sum(value) FROM observations") == [(4, 4.8 + 4.9 + 3.8 + 7.0)]
    checks = {r[0] for r in query(wh, 'SELECT "check" FROM quality_issues WHERE load_id = 2')}
    assert {"file:all_quarantined", "number"} <= checks  # the rejection and each row's reason are kept
    assert stages.ingest(UNE_BAD, wh).status == "unchanged"  # and it is not retried as if new
    # the run summary counts the rejection (it said "0 rejected": issue 16 item 11)
    from dwi.publish.outputs import facts

    assert facts(wh)["sources"] == "1 (0 loaded, 1 rejected (1 keep their previous vintage), 0 never loaded)"


def test_source_id_overrides_the_identity_and_refuses_a_case_variant(tmp_path):
    wh = tmp_path / "wh.duckdb"
    assert stages.ingest(UNE_1, wh, source_id="unemployment").source.id == "unemployment"
    assert stages.ingest(UNE_2, wh, source_id="unemployment").outcome.startswith("new vintage of 'unemployment'")
    with pytest.raises(DwiError, match="differs only in letter case from the source 'unemployment'"):
        stages.ingest(UNE_Q, wh, source_id="Unemployment")
    with pytest.raises(DwiError, match="no spaces"):
        stages.ingest(UNE_Q, wh, source_id="unemployment ")


def test_cli_ingest_prints_what_happened(tmp_path):
    wh = str(tmp_path / "wh.duckdb")
    runner = CliRunner()
    outs = [runner.invoke(app, ["ingest", str(f), "--warehouse", wh]) for f in (UNE_1, UNE_2, UNE_2)]
    assert [r.exit_code for r in outs] == [0, 0, 0]
    texts = [" ".join(r.output.split()) for r in outs]  # the console wraps lines at its width (80 in CI)
    assert "new source 'une_2eap_sex_age_rt_a'" in texts[0]
    assert "new vintage of 'une_2eap_sex_age_rt_a' (1 changed, 1 added, 1 removed)" in texts[1]
    assert "unchanged" in texts[2]


def test_a_source_removed_from_the_manifest_is_retired_but_its_history_stays(tmp_path):
    raw, wh = tmp_path / "raw", tmp_path / "wh.duckdb"
    shutil.copytree(RAW, raw)
    stages.run(raw, wh)
    loaded = query(wh, "SELECT count(*) FROM observations WHERE source_id = 'reported_gdp_growth'")[0][0]
    assert loaded > 0
    manifest = yaml.safe_load((raw / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["sources"] = [s for s in manifest["sources"] if s["id"] != "reported_gdp_growth"]
    (raw / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    stages.run(raw, wh)
    assert query(wh, "SELECT count(*) FROM observations WHERE source_id = 'reported_gdp_growth'") == [(0,)]
    status = query(
        wh, "SELECT status, retired_at IS NOT NULL, title <> '' FROM sources WHERE id = 'reported_gdp_growth'"
    )
    assert status == [("retired", True, True)]  # its provenance stays queryable
    assert query(wh, "SELECT count(*) FROM _observations WHERE source_id = 'reported_gdp_growth'") == [(loaded,)]
    assert query(wh, "SELECT count(*) FROM sources WHERE status = 'current'")[0][0] == len(manifest["sources"])


@pytest.mark.parametrize("other", ["Reported_GDP_growth", "reported_gdp_growth "])
def test_manifest_ids_that_differ_only_by_case_or_a_space_are_refused(tmp_path, other):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    manifest = yaml.safe_load((raw / "manifest.yaml").read_text(encoding="utf-8"))
    twin = next(s for s in manifest["sources"] if s["id"] == "reported_gdp_growth")
    manifest["sources"].append({**twin, "id": other})
    (raw / "manifest.yaml").write_text(yaml.safe_dump(manifest, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DwiError, match="spaces at its start or end|ignoring letter case"):
        load_manifest(raw, formats.FORMATS)
