"""The `dwi` command: run, validate, sql, export, report (and more verbs as they land).

Every verb takes --warehouse (or $DWI_WAREHOUSE); run and validate take --raw (or $DWI_RAW).
Errors are one readable line on stderr and a non-zero exit code (see dwi.errors), never a traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dwi import config
from dwi.errors import EXIT_DATA, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, DwiError
from dwi.publish.terminal import err, out, outputs_table, print_issues, summary_table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="dwi: decent-work indicators from official labour statistics, in DuckDB.",
)

# `\\[` is a literal bracket in the help: Rich reads `[env ...]` as markup and would drop it.
WarehouseOpt = Annotated[Path | None, typer.Option("--warehouse", help="DuckDB file \\[env DWI_WAREHOUSE]")]
RawOpt = Annotated[Path | None, typer.Option("--raw", help="source folder with manifest.yaml \\[env DWI_RAW]")]


def friendly(fn):
    """Turn DwiError into one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DwiError as exc:
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            err.print("[bold red]error:[/] interrupted (Ctrl-C)")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:  # an internal failure still gets one line; DWI_DEBUG=1 shows the traceback
            if os.environ.get("DWI_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [""])[-1]
            err.print(
                f"[bold red]error:[/] {type(exc).__name__}: {first} (run with DWI_DEBUG=1 for details)", soft_wrap=True
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


class _WithoutTraceback(logging.Filter):
    """Prefect logs a failed task with its traceback: the console shows its one-line message instead (the CLI
    prints the error itself; a DwiError's log line is dropped). DWI_DEBUG=1 keeps the tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], DwiError):
            return False
        record.exc_info, record.exc_text = None, None
        return True


def _console_without_tracebacks() -> None:
    if os.environ.get("DWI_DEBUG"):
        return
    loggers = [
        logging.getLogger(),
        *(logging.getLogger(n) for n in list(logging.Logger.manager.loggerDict) if n.startswith("prefect")),
    ]
    for handler in {h for logger in loggers for h in logger.handlers}:
        if isinstance(handler, logging.StreamHandler):
            handler.addFilter(_WithoutTraceback())


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # A busy machine can take longer than Prefect's default to start its temporary server.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


NoExportsOpt = Annotated[bool, typer.Option("--no-exports", help="skip the exports and the report")]
ExportsOpt = Annotated[
    Path | None,
    typer.Option("--exports", help="folder for the exports and the report \\[env DWI_EXPORTS; default exports/]"),
]


@app.command()
@friendly
def run(
    raw: RawOpt = None,
    warehouse: WarehouseOpt = None,
    exports: ExportsOpt = None,
    no_exports: NoExportsOpt = False,
    dask: Annotated[
        str | None,
        typer.Option(
            "--dask",
            help="run the per-source checks on this existing Dask cluster, e.g. tcp://10.0.0.5:8786 \\[env DWI_DASK]",
        ),
    ] = None,
) -> None:
    """Load every changed source in raw/ into the warehouse, rebuild the views, write the exports and the
    report (unless up to date), print a summary."""
    _quiet_prefect()
    from dwi.flows.pipeline import run_plan
    from dwi.publish.terminal import progress

    _console_without_tracebacks()
    wh, raw_path = config.warehouse_path(warehouse), config.raw_dir(raw)
    dask = dask or config.settings().dask
    runner = None
    if dask:
        from prefect_dask import DaskTaskRunner

        runner = DaskTaskRunner(address=dask)
    try:
        folder = None if no_exports else config.exports_dir(exports)
        with progress() as report:
            p = run_plan(raw_path, wh, folder, runner, report)
    except OSError as exc:
        if not dask:
            raise
        raise DwiError(
            f"cannot reach the Dask cluster at {dask}: {str(exc).splitlines()[0]}; start it or check --dask / DWI_DASK"
        ) from None
    for message in p.fetch_failures:  # URL sources (dwi.sources.fetch)
        err.print(f"[red]fetch failed:[/] {message}", soft_wrap=True)
    print_issues(p.batches)
    failed = any(b.has_problems for b in p.batches) or bool(p.fetch_failures)
    if p.nothing_to_do:
        out.print(f"nothing changed since the last run; {wh} was not touched")
        if failed:
            err.print("some sources still have problems from their last load; see the quality_issues view")
    else:
        out.print(summary_table(p.batches))
    for b in p.batches:  # what each load did to its source (a reload with the same values says nothing)
        if b.outcome and not b.outcome.startswith("unchanged"):
            out.print(f"{b.source.id}: {b.outcome}", soft_wrap=True)
    if wh.is_file():
        out.print(outputs_table(wh, p.published))
    raise typer.Exit(EXIT_DATA if failed else EXIT_OK)


@app.command()
@friendly
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="files to check (format from the manifest if listed there, else from the header)"),
    ],
    raw: RawOpt = None,
) -> None:
    """Check files against the rules and report every problem; loads nothing."""
    from dwi import stages
    from dwi.publish.terminal import progress

    with progress() as report:
        batches = stages.validate(paths, config.raw_dir(raw), stages.Runner(report))
    print_issues(batches, limit=10_000)
    out.print(summary_table(batches, "dwi validate (nothing loaded)"))
    raise typer.Exit(EXIT_DATA if any(b.has_problems for b in batches) else EXIT_OK)


@app.command()
@friendly
def sql(
    query: Annotated[str, typer.Argument(help="one read-only SQL statement")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    warehouse: WarehouseOpt = None,
) -> None:
    """Run a read-only query against the warehouse and print the result."""
    from dwi.store.query import run_query

    if fmt not in ("table", "csv", "json"):
        raise DwiError(f"--format must be table, csv or json, not '{fmt}'")
    frame = run_query(config.warehouse_path(warehouse), query)
    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=1) + "\n")
    else:
        from dwi.publish.terminal import frame_table

        out.print(frame_table(frame))
        out.print(f"{frame.height} row(s)")


@app.command()
@friendly
def scorecard(
    programme: Annotated[str | None, typer.Option("--programme", help="one programme id")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Print each programme's scorecard tree: reported and computed grades, discrepancies, missing and
    inferred grades (the dwcp_scores view; read-only)."""
    from dwi.derive.scorecard import read_scores, render

    for part in render(read_scores(config.warehouse_path(warehouse), programme)):
        out.print(part)


@app.command()
@friendly
def correlate(
    x: Annotated[str, typer.Argument(help="indicator code (x)")],
    y: Annotated[str, typer.Argument(help="indicator code (y)")],
    scope: Annotated[str, typer.Option("--scope", help="national | regions")] = "national",
    warehouse: WarehouseOpt = None,
    include_unprinted: Annotated[
        bool,
        typer.Option("--include-unprinted", help="also use values the source implies or whose year was corrected"),
    ] = False,
) -> None:
    """Correlate two indicators exactly as the `correlations` view does (scipy; flags for small n, trends,
    influential points, mixed sources); implied and corrected values are left out unless asked for."""
    from dwi.derive.correlations import correlate as compute
    from dwi.derive.correlations import known_code
    from dwi.store.warehouse import connect_read_only

    if scope not in ("national", "regions"):
        raise DwiError(f"--scope must be national or regions, not '{scope}'")
    wh = config.warehouse_path(warehouse)
    if not wh.is_file():
        raise DwiError(f"{wh}: no warehouse; run `dwi run` first")
    con = connect_read_only(wh)
    try:
        # a view since derived values are stored in _derived_values; a table in warehouses of older dwi
        objects = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views()"
            ).fetchall()
        }
        if "_indicator_values" not in objects:
            raise DwiError(f"{wh} has no indicator values; run `dwi run` to build them")
        for code in (x, y):
            if not known_code(con, code):
                raise DwiError(
                    f"unknown indicator '{code}': not in the registry or indicator_values (list "
                    'them: dwi sql "select distinct indicator_code from indicator_values")'
                )
        row = compute(con, x, y, scope, include_unprinted=include_unprinted)
    finally:
        con.close()
    table = Table(title=f"dwi correlate {x} {y} --scope {scope}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in row.items():
        shown = "" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))
        table.add_row(key, shown)
    out.print(table)


@app.command("export")
@friendly
def export_cmd(
    fmt: Annotated[
        list[str] | None,
        typer.Option("--format", help="csv | parquet | xlsx | json | sdmx-csv (repeatable; default: all)"),
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder \\[env DWI_EXPORTS; default exports/]")] = None,
    indicator: Annotated[list[str] | None, typer.Option("--indicator", help="indicator code (repeatable)")] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="region code, or a loaded country's code (repeatable)")
    ] = None,
    country: Annotated[
        list[str] | None, typer.Option("--country", help="ISO3 or aggregate code of loaded rows (repeatable)")
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write indicator values with their metadata and provenance (CSV, Parquet, XLSX, JSON, SDMX-CSV)."""
    from dwi.publish.exports import FORMATS, export
    from dwi.store.warehouse import connect_read_only

    folder = config.exports_dir(out_dir)
    con = connect_read_only(config.warehouse_path(warehouse))
    try:
        files = export(
            con,
            folder,
            fmt or FORMATS,
            indicator or (),
            region or (),
            on_done=lambda f, p: out.print(f"{f:<9} {p}"),
            countries=country or (),
        )
    finally:
        con.close()
    out.print(f"{len(files)} file(s) in {folder}")


@app.command()
@friendly
def report(
    out_file: Annotated[Path | None, typer.Option("--out", help="HTML file \\[default: exports/report.html]")] = None,
    charts: Annotated[bool, typer.Option("--charts/--no-charts", help="also write charts/*.svg next to it")] = True,
    country: Annotated[
        str, typer.Option("--country", help="ISO3 or aggregate code of loaded rows (default: Kazakhstan, KAZ)")
    ] = "KAZ",
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the self-contained HTML report (works offline) and one SVG per chart."""
    from dwi.publish.outputs import CHARTS, REPORT
    from dwi.publish.report import write_report
    from dwi.store.warehouse import connect_read_only

    path = (out_file or config.exports_dir() / REPORT).resolve()
    con = connect_read_only(config.warehouse_path(warehouse))
    try:
        with err.status("writing the report...") as status:
            write_report(
                con,
                path,
                path.parent / CHARTS if charts else None,
                lambda msg: status.update(f"report: {msg}"),
                country=country,
            )
    finally:
        con.close()
    out.print(f"report: {path}")


@app.command()
@friendly
def profile(
    country: Annotated[str, typer.Option("--country", help="ISO3 code of the country")] = "KAZ",
    lang: Annotated[str, typer.Option("--lang", help="en | ru")] = "en",
    out_dir: Annotated[Path | None, typer.Option("--out", help="folder \\[env DWI_EXPORTS; default exports/]")] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the decent-work country profile: a self-contained HTML page (works offline) and an XLSX workbook
    with one sheet per element of the ILO framework and a coverage sheet."""
    from dwi.publish.profile import write_profile
    from dwi.store.warehouse import connect_read_only

    con = connect_read_only(config.warehouse_path(warehouse))
    try:
        with err.status("writing the profile..."):
            page, book = write_profile(con, config.exports_dir(out_dir), country, lang)
    finally:
        con.close()
    out.print(f"profile: {page}")
    out.print(f"workbook: {book}")


@app.command()
@friendly
def ingest(
    path: Annotated[Path, typer.Argument(help="the file to load (.csv, .csv.gz, .xlsx)")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="ilostat | wdi | xlsx | tidy (default: detected from the content)")
    ] = None,
    source_id: Annotated[
        str | None,
        typer.Option("--source-id", help="source id (default: the dataset named in the content, see docs/sources.md)"),
    ] = None,
    layout: Annotated[
        str | None, typer.Option("--layout", help="xlsx layout: a YAML file or a name in dwi/reference/layouts/")
    ] = None,
    warehouse: WarehouseOpt = None,
) -> None:
    """Load one file through the same validation, quarantine and provenance as `dwi run`."""
    from dwi import stages
    from dwi.publish.terminal import progress

    wh = config.warehouse_path(warehouse)
    with progress() as report:
        batch = stages.ingest(path, wh, fmt, source_id, layout, stages.Runner(report))
    if batch.status == "unchanged":
        out.print(f"{path}: unchanged: already loaded as source '{batch.source.id}' with this content; nothing to do")
        raise typer.Exit(EXIT_OK)
    print_issues([batch])
    out.print(summary_table([batch], f"dwi ingest ({batch.source.format})"))
    out.print(f"{path}: {batch.outcome}")
    out.print(f"warehouse: {wh}")
    raise typer.Exit(EXIT_DATA if batch.has_problems else EXIT_OK)


@app.command()
@friendly
def init(directory: Annotated[Path, typer.Argument(help="the new project folder (new or empty)")]) -> None:
    """Create a project folder: raw/ with a manifest, warehouse/, exports/ and a README."""
    from dwi.sources.project import init as make

    for path in make(directory):
        out.print(f"created {path}")
    out.print(
        f"next: cd {directory}, put source files in raw/ (listed in raw/manifest.yaml) or `dwi ingest FILE`, "
        "then `dwi run`"
    )


CronOpt = Annotated[str | None, typer.Option("--cron", help="schedule, e.g. '0 6 * * 1' (Mondays 06:00)")]


@app.command()
@friendly
def serve(
    cron: CronOpt = None,
    timezone: Annotated[str, typer.Option("--timezone", help="time zone of --cron")] = "UTC",
    name: Annotated[str, typer.Option("--name", help="deployment name")] = "dwi-run",
    raw: RawOpt = None,
    warehouse: WarehouseOpt = None,
    exports: ExportsOpt = None,
    no_exports: NoExportsOpt = False,
) -> None:
    """Serve the main job as a Prefect deployment (on --cron, and on demand from the UI/API) until stopped.
    Each run also refreshes the exports and the report, like `dwi run`."""
    _quiet_prefect()
    from prefect.settings import get_current_settings

    from dwi.flows.pipeline import dwi_run

    if not get_current_settings().api.url:
        raise DwiError(
            "dwi serve needs a Prefect server: start one with `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )

    params = {
        "raw": str(config.raw_dir(raw)),
        "warehouse": str(config.warehouse_path(warehouse)),
        "exports": None if no_exports else str(config.exports_dir(exports)),
    }
    schedules = None
    if cron:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            schedules = [CronSchedule(cron=cron, timezone=timezone)]
        except ValueError as exc:
            why = str(exc).splitlines()[0]
            raise DwiError(f"--cron '{cron}' is not a valid cron schedule: {why}") from None
    when = f"cron {cron} {timezone}" if cron else "no schedule"
    err.print(
        f"serving deployment dwi-run/{name} ({when}) "
        f"with raw={params['raw']} warehouse={params['warehouse']}; Ctrl-C to stop"
    )
    dwi_run.serve(name=name, schedules=schedules, parameters=params, limit=1, print_starting_message=False)


if __name__ == "__main__":
    app()
