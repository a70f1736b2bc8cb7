"""Every view is documented once, in the YAML beside its SQL (dwi/store/sql/*/_*.yml): the same views, with
exactly the columns the warehouse has, in order, each with a description."""

from __future__ import annotations

import yaml

from dwi import config


def documented() -> dict[str, dict]:
    out = {}
    for f in sorted(config.SQL_DIR.glob("*/_*.yml")):
        for view in yaml.safe_load(f.read_text(encoding="utf-8"))["views"]:
            assert view["name"] not in out, f"{view['name']} documented twice"
            out[view["name"]] = view
    return out


def test_every_view_is_documented_with_its_columns(db):
    views = [
        r[0]
        for r in db.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY 1"
        ).fetchall()
    ]
    docs = documented()
    assert sorted(docs) == views
    for name in views:
        columns = [r[0] for r in db.execute(f'DESCRIBE "{name}"').fetchall()]
        assert list(docs[name]["columns"]) == columns, name
        assert docs[name]["description"].strip(), name
        assert all(str(text).strip() for text in docs[name]["columns"].values()), name
