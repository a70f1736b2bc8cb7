"""The `dwi` command: run, validate, sql (and more verbs as they land).

Every verb takes --warehouse (or $DWI_WAREHOUSE); run and validate take --raw (or $DWI_RAW).
Errors are one readable line on stderr and a non-zero exit code (see dwi.errors), never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dwi import config
from dwi.errors import EXIT_DATA, EXIT_OK, DwiError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dwi: decent-work indicators from official labour statistics, in DuckDB.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

WarehouseOpt = Annotated[Path | None, typer.Option("--warehouse", help="DuckDB file [env DWI_WAREHOUSE]")]
RawOpt = Annotated[Path | None, typer.Option("--raw", help="source folder with manifest.yaml [env DWI_RAW]")]


def friendly(fn):
    """Turn DwiError into one line on stderr and its exit code."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DwiError as exc:
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
    return wrapper


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _cell(v) -> str:
    """Whole-number floats (counts stored as DOUBLE) print without '.0'."""
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)


def summary_table(batches) -> Table:
    table = Table(title="dwi run", show_lines=False)
    for col, just in (("source", "left"), ("status", "left"), ("rows in", "right"), ("loaded", "right"),
                      ("quarantined", "right"), ("warnings", "right")):
        table.add_column(col, justify=just)
    style = {"loaded": "green", "unchanged": "dim", "rejected": "bold red", "failed": "bold red", "checked": "yellow"}
    for b in batches:
        warnings = b.issues.filter(b.issues["severity"] == "warning").height
        status = b.status
        if b.status == "unchanged" and b.has_problems:
            status = f"unchanged (last load: {b.previous[0]}, {b.previous[1]} quarantined)"
        table.add_row(b.source.id, f"[{style.get(b.status, '')}]{status}[/]",
                      *(str(x) if b.status != "unchanged" else "-" for x in
                        (b.rows_in, b.rows_loaded, b.rows_quarantined, warnings)))
    return table


def print_issues(batches, limit: int = 50) -> None:
    shown = 0
    for b in batches:
        for sev, msg in b.issues.select("severity", "message").iter_rows():
            if sev == "error" and shown < limit:
                err.print(f"[red]{sev}:[/] {msg}", soft_wrap=True)
                shown += 1
    total = sum(b.issues.filter(b.issues["severity"] == "error").height for b in batches)
    if total > shown:
        err.print(f"... and {total - shown} more; see the quality_issues view")


@app.command()
@friendly
def run(raw: RawOpt = None, warehouse: WarehouseOpt = None,
        dask: Annotated[str | None, typer.Option("--dask", help="run the per-source checks on this existing Dask "
                                                 "cluster, e.g. tcp://10.0.0.5:8786 [env DWI_DASK]")] = None) -> None:
    """Load every changed source in raw/ into the warehouse, rebuild the views, print a summary."""
    _quiet_prefect()
    from flows.pipeline import dwi_run

    wh, raw_path = config.warehouse_path(warehouse), config.raw_dir(raw)
    dask = dask or os.environ.get("DWI_DASK")
    if dask:
        from prefect_dask import DaskTaskRunner

        dwi_run = dwi_run.with_options(task_runner=DaskTaskRunner(address=dask))
    try:
        p = dwi_run(raw_path, wh)
    except OSError as exc:
        if not dask:
            raise
        raise DwiError(f"cannot reach the Dask cluster at {dask}: {str(exc).splitlines()[0]}; "
                       "start it or check --dask / DWI_DASK") from None
    print_issues(p.batches)
    failed = any(b.has_problems for b in p.batches)
    if p.nothing_to_do:
        out.print(f"nothing changed since the last run; {wh} was not touched")
        if failed:
            err.print("some sources still have problems from their last load; see the quality_issues view")
        raise typer.Exit(EXIT_DATA if failed else EXIT_OK)
    out.print(summary_table(p.batches))
    out.print(f"warehouse: {wh}")
    raise typer.Exit(EXIT_DATA if failed else EXIT_OK)


@app.command()
@friendly
def validate(paths: Annotated[list[Path], typer.Argument(help="files to check (format from the manifest "
                                                          "if listed there, else from the header)")],
             raw: RawOpt = None) -> None:
    """Check files against the rules and report every problem; loads nothing."""
    from dwi import stages
    from dwi.batch import Batch
    from dwi.manifest import Source, load_manifest, sha256
    from dwi.read import sniff_format

    raw_path = config.raw_dir(raw)
    listed = {}
    if (raw_path / "manifest.yaml").is_file():
        listed = {s.path: s for s in load_manifest(raw_path)}
    batches = []
    for path in paths:
        if not path.is_file():
            raise DwiError(f"{path}: no such file")
        source = listed.get(path.resolve()) or Source(path.stem, path.resolve(), sniff_format(path),
                                                      {"_relpath": str(path)})
        batches.append(Batch(source, sha256(path)))
    stages.check(batches)
    from dwi import bulk
    from dwi.reference import load_reference

    for b in batches:
        if bulk.streams(b):  # a big file: streamed through the same rules into a throwaway database
            bulk.check(b, load_reference())
    print_issues(batches, limit=10_000)
    table = summary_table(batches)
    table.title = "dwi validate (nothing loaded)"
    out.print(table)
    raise typer.Exit(EXIT_DATA if any(b.has_problems for b in batches) else EXIT_OK)


@app.command()
@friendly
def sql(query: Annotated[str, typer.Argument(help="one read-only SQL statement")],
        fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
        warehouse: WarehouseOpt = None) -> None:
    """Run a read-only query against the warehouse and print the result."""
    from dwi.query import run_query

    if fmt not in ("table", "csv", "json"):
        raise DwiError(f"--format must be table, csv or json, not '{fmt}'")
    frame = run_query(config.warehouse_path(warehouse), query)
    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=1) + "\n")
    else:
        table = Table(show_lines=False)
        for c in frame.columns:
            table.add_column(c, overflow="fold")
        for row in frame.iter_rows():
            table.add_row(*(_cell(v) for v in row))
        out.print(table)
        out.print(f"{frame.height} row(s)")


if __name__ == "__main__":
    app()
