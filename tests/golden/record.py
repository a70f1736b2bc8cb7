"""Record (or compare) dwi's outputs: the golden files that gate a change of the engine.

    python tests/golden/record.py            # write tests/golden/expected/ from the current code
    python tests/golden/record.py --check    # compare; exit 1 and print the differences

Three groups, each written as CSV so that a difference reads as a diff:
- `run/<view>.csv`: every view after a run on the embedded raw/ data (timestamps left out);
- `inputs/<group>.csv`: loads, quality_issues and observations for every fixture file of the bad-input and
  reader corpora, each loaded alone into a fresh warehouse;
- `big/ilostat_1m.csv`: counts and a hash of the observations of bench/generate.py's 1M-row file.

Rows are sorted on every column, so the order of a view does not matter; floats are written to 12 significant digits:
the last bits of a sum or a p-value differ between runs (parallel aggregation), the 12th digit never does.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXPECTED = HERE / "expected"
sys.path.insert(0, str(ROOT))

CORPORA = {  # group -> (folder, format or None to detect)
    "bad": (ROOT / "tests" / "fixtures" / "bad", "observations"),
    "reliability": (ROOT / "tests" / "reliability" / "fixtures" / "bad_inputs", "observations"),
    "readers_good": (ROOT / "tests" / "fixtures" / "readers" / "good", None),
    "readers_broken": (ROOT / "tests" / "fixtures" / "readers" / "broken", None),
}
DATA_SUFFIXES = (".csv", ".gz", ".xlsx", ".tsv", ".txt", ".bin", ".json", ".png")


def _text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text (floats to 12 significant digits), timestamps dropped, rows sorted."""
    keep = [c for c, t in frame.schema.items() if not isinstance(t, pl.Datetime)]
    out = frame.select(
        [
            pl.col(c).map_elements(lambda x: f"{x:.12g}", return_dtype=pl.String)
            if frame.schema[c] in (pl.Float64, pl.Float32)
            else pl.col(c).cast(pl.String)
            for c in keep
        ]
    )
    return out.sort(out.columns, nulls_last=True) if out.width else out


def dump_views(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
            "AND view_name NOT LIKE '\\_%' ESCAPE '\\' AND view_name NOT LIKE 'stg\\_%' ESCAPE '\\' "
            "ORDER BY 1"
        ).fetchall()
    ]
    return {n: _text(con.sql(f'SELECT * FROM "{n}"').pl()) for n in names}


def record_run(out: dict[str, pl.DataFrame], tmp: Path) -> None:
    from dwi import stages

    wh = tmp / "run.duckdb"
    stages.run(ROOT / "raw", wh)
    con = duckdb.connect(str(wh), read_only=True)
    try:
        for name, frame in dump_views(con).items():
            out[f"run/{name}.csv"] = frame
    finally:
        con.close()


def _case(group: str, file: Path, fmt: str | None, tmp: Path) -> dict[str, pl.DataFrame]:
    from dwi import formats, stages
    from dwi.errors import DwiError

    raw = tmp / group / file.name / "raw"
    raw.mkdir(parents=True)
    shutil.copy(file, raw / file.name)
    for companion in file.parent.glob(file.name.split(".")[0] + ".layout.yaml"):
        shutil.copy(companion, raw / companion.name)
    try:
        fmt = fmt or formats.detect(raw / file.name).name
    except DwiError as exc:
        return {
            "loads": pl.DataFrame(
                {
                    "case": [f"{group}/{file.name}"],
                    "status": ["detect failed"],
                    "message": [str(exc).replace(str(raw), "RAW")],
                }
            )
        }
    entry = {"id": "case", "path": file.name, "format": fmt, "title": "golden case"}
    (raw / "manifest.yaml").write_text(yaml.safe_dump({"sources": [entry]}), encoding="utf-8")
    wh = raw.parent / "wh.duckdb"
    try:
        stages.run(raw, wh)
    except DwiError as exc:
        return {
            "loads": pl.DataFrame(
                {"case": [f"{group}/{file.name}"], "status": ["error"], "message": [str(exc).replace(str(raw), "RAW")]}
            )
        }
    if not wh.exists():  # a rejected file alone: the warehouse is not written
        p = stages.plan(raw, wh)
        stages.check(p.batches, stages.Runner(), tmp / "staging")
        b = p.batches[0]
        issues = b.issues.with_columns(pl.lit(f"{group}/{file.name}").alias("case"))
        loads = pl.DataFrame(
            {
                "case": [f"{group}/{file.name}"],
                "status": [b.status],
                "rows_in": [b.rows_in],
                "rows_loaded": [b.rows_loaded],
                "rows_quarantined": [b.rows_quarantined],
                "message": [b.message],
            }
        )
        return {"loads": loads, "quality_issues": issues}
    con = duckdb.connect(str(wh), read_only=True)
    try:
        frames = {
            "loads": con.sql("SELECT status, rows_in, rows_loaded, rows_quarantined, message FROM loads").pl(),
            "quality_issues": con.sql("SELECT * EXCLUDE (load_id) FROM quality_issues").pl(),
            "observations": con.sql("SELECT * EXCLUDE (load_id) FROM observations").pl(),
        }
    finally:
        con.close()
    return {k: v.with_columns(pl.lit(f"{group}/{file.name}").alias("case")) for k, v in frames.items()}


def record_inputs(out: dict[str, pl.DataFrame], tmp: Path) -> None:
    for group, (folder, fmt) in CORPORA.items():
        parts: dict[str, list[pl.DataFrame]] = {}
        for file in sorted(folder.iterdir()):
            if file.name.endswith(".layout.yaml") or not file.is_file() or file.suffix not in DATA_SUFFIXES:
                continue
            for kind, frame in _case(group, file, fmt, tmp).items():
                parts.setdefault(kind, []).append(frame)
        for kind, frames in parts.items():
            out[f"inputs/{group}_{kind}.csv"] = _text(pl.concat(frames, how="diagonal_relaxed"))


def _big_case(name: str, broken: float, tmp: Path) -> pl.DataFrame:
    from dwi.stages import ingest

    data = tmp / name
    data.mkdir()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--rows",
            "1000000",
            "--broken",
            str(broken),
            "--out",
            str(data / "ilostat_1m.csv"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    wh = data / "wh.duckdb"
    batch = ingest(data / "ilostat_1m.csv", wh, "ilostat", "big")
    con = duckdb.connect(str(wh), read_only=True)
    facts = {"rows_in": batch.rows_in, "rows_loaded": batch.rows_loaded, "rows_quarantined": batch.rows_quarantined}
    try:
        for what, sql in (
            ("observations", "SELECT * EXCLUDE (load_id) FROM observations ORDER BY source_row"),
            (
                "quality_issues",
                "SELECT * EXCLUDE (load_id, file, message), replace(message, $dir, 'TMP') "
                "FROM quality_issues ORDER BY ALL",
            ),
        ):
            digest = hashlib.sha256()
            con.execute(sql, {"dir": str(data)} if "$dir" in sql else None)
            while rows := con.fetchmany(100_000):
                digest.update(repr(rows).encode())
            facts[f"sha256 {what}"] = digest.hexdigest()
        facts["observations"], facts["value_sum_thousandths"] = con.execute(  # exact: summed as integers
            "SELECT count(*), sum(round(value * 1000)::HUGEINT) FROM observations"
        ).fetchall()[0]
        for check, severity, n in con.execute(
            'SELECT "check", severity, count(*) FROM quality_issues GROUP BY ALL'
        ).fetchall():
            facts[f"issues {check} {severity}"] = n
        facts["first issues"] = " | ".join(
            r[0]
            for r in con.execute(
                'SELECT message FROM quality_issues ORDER BY "row", "column", message LIMIT 5'
            ).fetchall()
        )
    finally:
        con.close()
    return pl.DataFrame(
        {"what": list(facts), "value": [repr(v) if isinstance(v, float) else str(v) for v in facts.values()]}
    )


def record_big(out: dict[str, pl.DataFrame], tmp: Path) -> None:
    out["big/ilostat_1m.csv"] = _text(_big_case("clean", 0.0, tmp))
    out["big/ilostat_1m_broken.csv"] = _text(_big_case("broken", 0.01, tmp))


def record(groups: list[str]) -> dict[str, str]:
    out: dict[str, pl.DataFrame] = {}
    with tempfile.TemporaryDirectory(prefix="dwi-golden-") as tmp:
        for group in groups:
            {"run": record_run, "inputs": record_inputs, "big": record_big}[group](out, Path(tmp))
        # paths inside the scratch folder are written relative to it
        return {
            name: frame.write_csv().replace(str(Path(tmp).resolve()), "TMP").replace(tmp, "TMP")
            for name, frame in out.items()
        }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="compare with tests/golden/expected/")
    parser.add_argument("--group", action="append", choices=["run", "inputs", "big"])
    args = parser.parse_args()
    groups = args.group or ["run", "inputs", "big"]
    produced = record(groups)
    if not args.check:
        for name, text in produced.items():
            path = EXPECTED / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        print(f"wrote {len(produced)} files to {EXPECTED}")
        return 0
    failed = 0
    for name, text in sorted(produced.items()):
        want = (EXPECTED / name).read_text(encoding="utf-8") if (EXPECTED / name).exists() else ""
        if want != text:
            failed += 1
            diff = difflib.unified_diff(
                want.splitlines(), text.splitlines(), f"expected/{name}", f"now/{name}", lineterm="", n=0
            )
            print("\n".join(list(diff)[:60]))
    expected = {
        str(p.relative_to(EXPECTED))
        for p in EXPECTED.rglob("*.csv")
        if str(p.relative_to(EXPECTED)).split("/")[0] in groups
    }
    for name in sorted(expected - set(produced)):
        failed += 1
        print(f"missing now: {name}")
    print(f"{failed} difference(s) in {len(produced)} files")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
