"""What the command line prints: the run's summary tables, the issues, and progress while work goes on.

Progress is shown only on a terminal (stderr is a TTY and CI is not set): the stage, the source and how far it
got. In logs and CI nothing is printed until the summary.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def cell(v) -> str:
    """Whole-number floats (counts stored as DOUBLE) print without '.0'."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def interactive() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress() -> Iterator:
    """A progress callback (stage, what, done, total) drawing one line on a terminal; a no-op elsewhere."""
    if not interactive():
        yield lambda *_: None
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[n]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        line = bar.add_task("starting", total=None, n="")

        def report(stage: str, what: str, done: int, total: int | None) -> None:
            unit = "sources" if stage == "check" and total else "rows"
            shown = f"{done:,}/{total:,} {unit}" if total else (f"{done:,} {unit}" if done else "")
            bar.update(line, description=f"{stage}: {what}", completed=done, total=total, n=shown)

        yield report


def summary_table(batches, title: str = "dwi run") -> Table:
    table = Table(title=title, show_lines=False)
    for col, just in (
        ("source", "left"),
        ("status", "left"),
        ("rows in", "right"),
        ("loaded", "right"),
        ("quarantined", "right"),
        ("warnings", "right"),
    ):
        table.add_column(col, justify=just)
    style = {"loaded": "green", "unchanged": "dim", "rejected": "bold red", "failed": "bold red", "checked": "yellow"}
    for b in batches:
        warnings = b.issues.filter(b.issues["severity"] == "warning").height
        status = b.status
        if b.status == "unchanged" and b.has_problems:
            status = f"unchanged (last load: {b.previous[0]}, {b.previous[1]} quarantined)"
        table.add_row(
            b.source.id,
            f"[{style.get(b.status, '')}]{status}[/]",
            *(
                str(x) if b.status != "unchanged" else "-"
                for x in (b.rows_in, b.rows_loaded, b.rows_quarantined, warnings)
            ),
        )
    return table


def print_issues(batches, limit: int = 50) -> None:
    shown = 0
    for b in batches:
        for row, column, check, sev, msg in b.issues.select(
            "row", "column", "check", "severity", "message"
        ).iter_rows():
            if sev == "error" and shown < limit:
                known = (row, column, check) in b.source.accepted
                label = "[yellow]accepted (manifest):[/]" if known else f"[red]{sev}:[/]"
                err.print(f"{label} {msg}", soft_wrap=True)
                shown += 1
    total = sum(b.issues.filter(b.issues["severity"] == "error").height for b in batches)
    if total > shown:
        err.print(f"... and {total - shown} more; see the quality_issues view")


def outputs_table(wh: Path, published) -> Table:
    from dwi.publish.outputs import CHARTS, facts

    table = Table(title="dwi run: summary", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("", overflow="fold")
    for k, v in facts(wh).items():
        table.add_row(k, v)
    table.add_row("warehouse", str(wh))
    if published is None:
        table.add_row("exports", "not written (--no-exports)")
    else:
        state = "up to date, not rewritten" if published.skipped else "written"
        names = ", ".join(f.name for f in published.files)
        table.add_row("exports", f"{published.folder} ({state}): {names}")
        table.add_row("report", str(published.report))
        table.add_row("charts", f"{published.folder / CHARTS} ({published.charts} SVG files)")
    return table


def frame_table(frame) -> Table:
    table = Table(show_lines=False)
    for c in frame.columns:
        table.add_column(c, overflow="fold")
    for row in frame.iter_rows():
        table.add_row(*(cell(v) for v in row))
    return table
