"""What `dwi run` leaves for people: the default exports, the HTML report and one SVG per chart.

exports/ (--exports DIR, else $DWI_EXPORTS, else exports/ in the project) holds:
  indicator_values.{csv,parquet,json,sdmx.csv}, decent_work.xlsx, report.html, charts/*.svg and
  .dwi-exports.json, a stamp naming the warehouse state they were made from. When the warehouse has not
  changed since (same loads, same build fingerprint, same report template), nothing is rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dwi import config
from dwi.publish.files import write_error, write_text
from dwi.store.warehouse import connect_read_only, read_state

STAMP = ".dwi-exports.json"
TEMPLATE_DIR = Path(__file__).parent / "templates"  # the report's; part of the up-to-date check
# The files the exports write (dwi.publish.exports.WRITERS), known here without importing the writers.
EXPORT_FILES = (
    "indicator_values.csv",
    "indicator_values.parquet",
    "decent_work.xlsx",
    "indicator_values.json",
    "indicator_values.sdmx.csv",
)
REPORT = "report.html"
CHARTS = "charts"

Step = Callable[[str, str, int | None, int | None], None]  # (phase, message, done, total)


@dataclass
class Published:
    folder: Path
    files: list[Path] = field(default_factory=list)
    report: Path | None = None
    charts: int = 0
    skipped: bool = False  # up to date: nothing was rewritten


def state_key(warehouse: Path) -> str:
    """A hash of what the outputs are made from: each source's loaded content, the build, the template."""
    shas, fingerprint = read_state(warehouse)
    digest = hashlib.sha256(json.dumps([sorted(shas.items()), fingerprint, str(warehouse)]).encode())
    for f in sorted(TEMPLATE_DIR.glob("*")):
        digest.update(f.read_bytes())
    return digest.hexdigest()


def expected(folder: Path) -> list[Path]:
    return [folder / name for name in EXPORT_FILES] + [folder / REPORT]


def up_to_date(folder: Path, key: str) -> bool:
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stamp.get("key") == key and all(p.is_file() for p in expected(folder))


def publish(warehouse: Path, folder: Path, force: bool = False, step: Step | None = None) -> Published:
    """Write every export format, the report and the chart SVGs into `folder`, unless they are up to date.
    One publisher at a time per folder (a second run waits, then usually finds the outputs up to date)."""
    from dwi.store.warehouse import writer_lock

    with writer_lock(folder / ".publish", timeout=max(config.settings().lock_timeout, 300)):
        return _publish(warehouse, folder, force, step)


def _publish(warehouse: Path, folder: Path, force: bool, step: Step | None) -> Published:
    step = step or (lambda *_: None)
    key = state_key(warehouse)
    if not force and up_to_date(folder, key):
        charts = len(list((folder / CHARTS).glob("*.svg")))
        return Published(folder, expected(folder)[:-1], folder / REPORT, charts, skipped=True)
    from dwi.publish.exports import FORMATS, export  # the writers and the plotting library: only when needed
    from dwi.publish.report import write_report

    (folder / STAMP).unlink(missing_ok=True)
    con = connect_read_only(warehouse)
    try:
        files = export(
            con,
            folder,
            FORMATS,
            on_done=lambda fmt, _p: step("exports", f"wrote {fmt}", FORMATS.index(fmt) + 1, len(FORMATS)),
        )
        counter = {"charts": 0}

        def report_step(msg: str) -> None:
            if msg.startswith("chart "):
                done, total = msg.split()[1].rstrip(":").split("/")
                counter["charts"] = int(total)
                step("report", msg, int(done), int(total))
            else:
                step("report", msg, None, None)

        report = write_report(con, folder / REPORT, folder / CHARTS, report_step)
        write_text(folder / STAMP, json.dumps({"key": key, "warehouse": str(warehouse)}))
    except OSError as exc:
        raise write_error(folder, exc) or exc from None
    finally:
        con.close()
    return Published(folder, files, report, counter["charts"])


def facts(warehouse: Path) -> dict[str, str]:
    """The end-of-run summary: sources, rows, indicators, findings (each 'not available' if its view is)."""
    con = connect_read_only(warehouse)
    try:
        present = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}

        def one(q: str):
            return con.execute(q).fetchall()[0]

        # a source's state is its latest load attempt: a rejected new vintage leaves the previous one current
        # (sources.load_id), but it was rejected all the same, and the summary says so
        n, loaded, rejected, kept, rows, quarantined = one("""
            WITH latest AS (SELECT source_id, arg_max(status, load_id) AS status FROM loads GROUP BY ALL)
            SELECT count(*), count(*) FILTER (t.status = 'loaded'),
                   count(*) FILTER (t.status IN ('rejected', 'failed')),
                   count(*) FILTER (t.status IN ('rejected', 'failed') AND l.status = 'loaded'),
                   coalesce(sum(l.rows_loaded), 0), coalesce(sum(l.rows_quarantined), 0)
            FROM sources s LEFT JOIN loads l ON l.load_id = s.load_id LEFT JOIN latest t ON t.source_id = s.id
            WHERE s.status = 'current'""")
        warnings = one(
            "SELECT count(*) FROM quality_issues q JOIN sources s ON s.load_id = q.load_id AND s.status = 'current' "
            "WHERE q.severity = 'warning'"
        )[0]
        reported = one("SELECT count(DISTINCT indicator_code) FROM observations")[0]
        out = {
            "sources": f"{n} ({loaded} loaded, {rejected} rejected"
            + (f" ({kept} keep their previous vintage)" if kept else "")
            + f", {n - loaded - rejected} never loaded)",
            "rows loaded": f"{rows:,}",
            "rows quarantined": f"{quarantined:,}",
            "indicators reported": str(reported),
        }
        if "indicator_values" in present:
            codes, values = one("SELECT count(DISTINCT indicator_code), count(*) FROM indicator_values WHERE derived")
            out["indicators computed"] = f"{codes} ({values:,} values)"
        else:
            out["indicators computed"] = "indicator_values not available in this warehouse"
        findings = [f"{warnings} warning(s)"]
        if "reconciliation" in present:
            verdicts = con.execute("SELECT verdict, count(*) FROM reconciliation GROUP BY ALL ORDER BY 1").fetchall()
            findings.append("reconciliation: " + (", ".join(f"{c} {v}" for v, c in verdicts) or "no checks"))
        else:
            findings.append("reconciliation not available")
        if "correlations" in present:
            findings.append(f"{one('SELECT count(*) FROM correlations')[0]} correlation(s)")
        out["findings"] = "; ".join(findings)
        return out
    finally:
        con.close()
