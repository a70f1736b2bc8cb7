"""_indicator_values is a view: observed rows straight from `observations`, computed rows from _derived_values."""

from __future__ import annotations

import shutil

import duckdb
from polars.testing import assert_frame_equal

from tests.conftest import rows


def test_a_warehouse_with_the_old_table_is_rebuilt_with_the_view(db, warehouse, tmp_path):
    """Warehouses written before derived values were stored apart have a TABLE _indicator_values (observed
    and derived rows) and no _derived_values: the next build replaces the table by the view."""
    from dwi import stages
    from tests.conftest import RAW

    wh = tmp_path / "older.duckdb"
    shutil.copyfile(warehouse, wh)
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE _copy AS SELECT * FROM _indicator_values")
    con.execute("DROP VIEW _indicator_values")
    con.execute("DROP TABLE _derived_values")
    con.execute("CREATE TABLE _indicator_values AS SELECT * FROM _copy")
    con.execute("DROP TABLE _copy")
    con.execute("UPDATE _meta SET value = 'built by an older dwi' WHERE key = 'fingerprint'")  # -> rebuild
    con.close()
    stages.run(RAW, wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        assert rows(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_indicator_values'") == [(0,)]
        assert rows(con, "SELECT count(*) FROM duckdb_views() WHERE view_name = '_indicator_values'") == [(1,)]
        assert rows(con, "SELECT count(*) FROM _derived_values WHERE NOT derived") == [(0,)]
        assert_frame_equal(
            con.sql("SELECT * FROM indicator_values ORDER BY ALL").pl(),
            db.sql("SELECT * FROM indicator_values ORDER BY ALL").pl(),
        )
    finally:
        con.close()
