"""Issue 16 item 10: convention dates of year 1 or 9999 were accepted and stretched a derived series over
10,000 years. A ratification date lies between the ILO's first conventions (1919-11-28) and today."""

from __future__ import annotations

import duckdb

from dwi import stages


def test_a_ratification_date_outside_the_ilo_era_is_quarantined_alone(tmp_path):
    file = tmp_path / "conventions.csv"
    file.write_text(
        "convention_no,title,ratification_date,note\n"
        '29,"Forced Labour Convention, 1930",2001-05-18,\n'
        '81,"Labour Inspection Convention, 1947",0001-01-01,\n'
        '87,"Freedom of Association Convention, 1948",9999-12-31,\n',
        encoding="utf-8",
    )
    wh = tmp_path / "wh.duckdb"
    batch = stages.ingest(file, wh, "conventions")
    assert (batch.rows_in, batch.rows_quarantined) == (3, 2)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        issues = con.execute(
            'SELECT "row", "column", "check", value FROM quality_issues WHERE severity = \'error\' ORDER BY 1'
        ).fetchall()
        loaded = con.execute("SELECT convention_no FROM conventions").fetchall()
    finally:
        con.close()
    assert issues == [
        (3, "ratification_date", "date_range", "0001-01-01"),
        (4, "ratification_date", "date_range", "9999-12-31"),
    ]
    assert loaded == [(29,)]
