"""Every real public file the tests carry (tests/fixtures/real/, provenance in its README), ingested one after
another into one warehouse, as a user does with `dwi ingest`: each is a dataset of its own, every loaded value
stays visible (no file hides another), and a later download of one of them is a vintage of it, its changes and
removals listed in `revisions`."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dwi import formats, stages
from tests.conftest import FIXTURES

REAL = FIXTURES / "real"
FILES = sorted(p for p in REAL.rglob("*") if p.is_file() and p.suffix in (".csv", ".tsv", ".xlsx", ".gz"))
# ILOSTAT's Spanish xlsx download: its labels ('Hombres', 'Mujeres', Spanish area names) are not in the English
# dictionaries dwi ships, so every row is quarantined (unknown sex) and the file is rejected, loading nothing.
REJECTED = {"POP_XWAP_SEX_AGE_NB_Q-20250624T1317.xlsx": "file:all_quarantined"}
GDP = REAL / "worldbank" / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_391573.csv"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> tuple[Path, dict[str, stages.Batch]]:
    warehouse = tmp_path_factory.mktemp("real") / "w.duckdb"
    return warehouse, {p.name: stages.ingest(p, warehouse) for p in FILES}


def test_the_real_files_cover_every_reader():
    assert {formats.detect(p).name for p in FILES} == {
        "eurostat_tsv",
        "ilostat",
        "kazstat",
        "sdmx_csv",
        "uis",
        "wdi",
        "wb_countries",
        "wb_indicators",
    }


def test_each_file_is_a_new_dataset_of_its_own(loaded):
    _, batches = loaded
    assert len({b.source.id for b in batches.values()}) == len(FILES)  # no two files share a source
    for name, batch in batches.items():
        if name in REJECTED:
            assert batch.status == "rejected" and batch.rows_loaded == 0, name
            assert REJECTED[name] in set(batch.issues["check"]), name
        else:
            assert batch.status == "loaded" and batch.rows_loaded > 0, (name, batch.message)
            assert batch.outcome == f"new source '{batch.source.id}'", name


def test_every_loaded_row_stays_visible_after_all_the_others(loaded):
    """What each file loaded is in the warehouse after every later file: in `observations` for data, in the
    target table for the World Bank's metadata companions; and each source's load row counts it."""
    warehouse, batches = loaded
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name, batch in batches.items():
            if name in REJECTED:
                continue
            target = formats.get(batch.source.format).target
            load_id = con.execute(
                "SELECT max(load_id) FROM _loads WHERE source_id = ? AND status = 'loaded'", [batch.source.id]
            ).fetchall()[0][0]
            stored = con.execute(f"SELECT count(*) FROM {target.table} WHERE load_id = ?", [load_id]).fetchall()
            assert stored[0][0] == batch.rows_loaded, name
            if target.table == "_observations":
                visible = con.execute(
                    "SELECT count(*) FROM observations WHERE source_id = ?", [batch.source.id]
                ).fetchall()[0][0]
                assert visible == batch.rows_loaded, name
        assert con.execute("SELECT count(*) FROM revisions").fetchall()[0][0] == 0  # nothing was a vintage yet
    finally:
        con.close()


def test_a_later_download_is_a_vintage_with_its_changes_listed(loaded, tmp_path):
    """The World Bank's GDP file downloaded again under another name, with Aruba's 2023 value revised and the
    row of 'Africa Eastern and Southern' (AFE) gone: the same source, one value changed, AFE's values listed as
    removed."""
    warehouse, batches = loaded
    sid = batches[GDP.name].source.id
    text = GDP.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    removed = next(line for line in lines if line.startswith('"Africa Eastern and Southern","AFE"'))
    aruba = next(line for line in lines if line.startswith('"Aruba","ABW"'))
    assert '"3648573136.15155"' in aruba
    later = tmp_path / "API_NY.GDP.MKTP.CD_DS2_en_csv_v2_999999.csv"
    later.write_text(
        "\ufeff" + text.replace(removed, "").replace('"3648573136.15155"', '"3650000000.5"'), encoding="utf-8"
    )
    afe_values = sum(1 for cell in removed.split(",")[4:] if cell.strip().strip('"'))
    assert afe_values > 30

    batch = stages.ingest(later, warehouse)

    assert batch.source.id == sid and batch.status == "loaded"
    assert batch.outcome == f"new vintage of '{sid}' (1 changed, 0 added, {afe_values} removed)"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        changes = con.execute(
            "SELECT change, country, year, old_value, new_value FROM revisions WHERE source_id = ? "
            "ORDER BY change, country, year",
            [sid],
        ).fetchall()
        assert changes[0] == ("changed", "ABW", 2023, 3648573136.15155, 3650000000.5)
        assert {(c[0], c[1]) for c in changes[1:]} == {("removed", "AFE")} and len(changes) == 1 + afe_values
        now = con.execute(
            "SELECT value FROM observations WHERE source_id = ? AND country = 'ABW' AND year = 2023", [sid]
        ).fetchall()
        assert now == [(3650000000.5,)]
        vintages = "SELECT count(DISTINCT load_id) FROM _observations WHERE source_id = ?"
        assert con.execute(vintages, [sid]).fetchall()[0][0] == 2  # the earlier vintage stays, queryable
    finally:
        con.close()
