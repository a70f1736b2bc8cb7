"""dwi's benchmark: one command, one synthetic ILOSTAT bulk file, every measure; writes bench/RESULTS.md.

    python bench/run.py --rows 10000000        # full run (takes minutes; the machine should be quiet)
    python bench/run.py --quick                # 5k rows, one repeat, no Prefect server: a smoke test

Measures, each step in its own process (peak RSS per step from os.wait4), medians of --repeat runs:
  (a) yardstick: DuckDB CREATE TABLE AS SELECT * FROM read_csv(..., columns={explicit types}), on disk
  (b) dwi's data path in-process (timed after imports): read, harmonise, validate, load, build views
      (dwi.ingest.ingest, the function behind `dwi ingest`; big files are checked and loaded by dwi.bulk)
  (c) a peer: pandas read_csv + the same row rules in pandera (pandas backend) + DuckDB load
  (d) the whole `dwi ingest FILE` command, against a running Prefect server and with none configured
and, in the same two modes, `dwi run` on the embedded raw/ data and a no-op re-run, each against a Prefect
flow with one task (bench/one_task_flow.py). Peak RSS of (b) is also shown at smaller row counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
COLUMN_TYPES = {
    "ref_area": "VARCHAR",
    "source": "VARCHAR",
    "indicator": "VARCHAR",
    "sex": "VARCHAR",
    "classif1": "VARCHAR",
    "time": "VARCHAR",
    "obs_value": "DOUBLE",
    "obs_status": "VARCHAR",
    "note_classif": "VARCHAR",
    "note_indicator": "VARCHAR",
    "note_source": "VARCHAR",
}
TARGETS = {
    "b/a": ("<=", 1.5),
    "c/b": (">=", 2.0),
    "d/a (server)": ("<=", 2.0),
    "dwi run / one-task flow (server)": ("<=", 1.3),
    "dwi run / one-task flow (no server)": ("<=", 1.3),
    "dwi run --no-exports / one-task flow (server)": ("<=", 1.3),
    "dwi run --no-exports / one-task flow (no server)": ("<=", 1.3),
    "no-op re-run / one-task flow (server)": ("<=", 1.1),
    "no-op re-run / one-task flow (no server)": ("<=", 1.1),
}
RSS_TARGET_GIB = 1.5


# ---------------------------------------------------------------- steps (run in a child process each)


def step_yardstick(file: Path, warehouse: Path) -> float:
    import duckdb

    con = duckdb.connect(str(warehouse))
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMN_TYPES.items()) + "}"
    start = time.perf_counter()
    con.execute(f"CREATE TABLE ilostat AS SELECT * FROM read_csv('{file}', header = true, columns = {columns})")
    con.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def step_dwi(file: Path, warehouse: Path) -> float:
    from dwi.check import engine  # noqa: F401  (imports outside the timing: pandera, the builders)
    from dwi.derive import BUILDERS  # noqa: F401
    from dwi.reference import load_reference
    from dwi.stages import ingest

    load_reference()
    start = time.perf_counter()
    batch = ingest(file, warehouse, "ilostat")
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {"rows_in": batch.rows_in, "rows_loaded": batch.rows_loaded, "rows_quarantined": batch.rows_quarantined}
        ),
        file=sys.stderr,
    )
    return seconds


def step_peer(file: Path, warehouse: Path) -> float:
    """What a team would write with plain pandas + pandera (pandas backend) + DuckDB: the same row rules
    (required cells, known sex and status, a time dwi can read, a year in range, a finite number, one row
    per key), failing rows dropped, the rest loaded."""
    import duckdb
    import pandas as pd
    import pandera.pandas as pa

    last_year = dt.date.today().year + 1
    schema = pa.DataFrameSchema(
        {
            "ref_area": pa.Column(str, pa.Check.str_matches(r"^[A-Z0-9_]+$")),
            "indicator": pa.Column(str),
            "sex": pa.Column(str, pa.Check.isin(["SEX_T", "SEX_M", "SEX_F", "T", "M", "F"])),
            "time": pa.Column(str, pa.Check.str_matches(r"^\d{4}([QM]\d{1,2})?$")),
            "year": pa.Column(int, pa.Check.in_range(1991, last_year)),
            "obs_value": pa.Column(float, [pa.Check(lambda s: pd.Series(s).abs() < float("inf"))]),
            "obs_status": pa.Column(str, pa.Check.isin(list("ABEFIPU")), nullable=True),
        },
        unique=["ref_area", "indicator", "sex", "classif1", "time"],
        report_duplicates="all",
    )
    start = time.perf_counter()
    frame = pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])
    frame["obs_value"] = pd.to_numeric(frame["obs_value"], errors="coerce")
    frame["year"] = pd.to_numeric(frame["time"].str[:4], errors="coerce").fillna(-1).astype(int)
    try:
        schema.validate(frame, lazy=True)
        bad = []
    except pa.errors.SchemaErrors as err:
        bad = err.failure_cases["index"].dropna().unique()
    kept = frame.drop(index=bad)
    con = duckdb.connect(str(warehouse))
    con.register("kept", kept)
    con.execute("CREATE TABLE ilostat AS SELECT * FROM kept")
    con.execute("CHECKPOINT")
    con.close()
    return time.perf_counter() - start


STEPS = {"yardstick": step_yardstick, "dwi": step_dwi, "peer": step_peer}


# ---------------------------------------------------------------- measuring processes


def measure(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> dict:
    """Run a command; wall seconds, its own peak RSS (os.wait4: this child only), exit code, output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "code": proc.returncode, "output": text}


def run_step(name: str, file: Path, work: Path, repeat: int) -> dict:
    """A step `repeat` times in fresh child processes on a fresh warehouse; medians."""
    runs = []
    for i in range(repeat):
        wh = work / f"{name}-{i}.duckdb"
        for leftover in work.glob(f"{name}-{i}.duckdb*"):
            leftover.unlink()
        r = measure([sys.executable, __file__, "--step", name, "--file", str(file), "--warehouse", str(wh)])
        if r["code"] != 0:
            raise SystemExit(f"step {name} failed:\n{r['output'][-3000:]}")
        r["seconds"] = json.loads(r["output"].strip().splitlines()[-1])["seconds"]
        runs.append(r)
        for leftover in work.glob(f"{name}-{i}.duckdb*"):
            leftover.unlink()
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "wall": statistics.median(r["wall"] for r in runs),
        "rss_mib": statistics.median(r["rss_mib"] for r in runs),
        "runs": len(runs),
        "detail": runs[-1]["output"].strip().splitlines()[0] if name == "dwi" else "",
    }


def run_command(label: str, cmd: list[str], env: dict, repeat: int, before=None) -> dict:
    runs = []
    for _ in range(repeat):
        if before:
            before()
        r = measure(cmd, env)
        if r["code"] not in (0, 1):  # 1: the data has quarantined rows, which is not a failure of the command
            raise SystemExit(f"{label} failed ({r['code']}):\n{r['output'][-3000:]}")
        runs.append(r)
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "rss_mib": statistics.median(r["rss_mib"] for r in runs),
        "runs": len(runs),
    }


# ---------------------------------------------------------------- a local Prefect server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrefectServer:
    """`prefect server start` on 127.0.0.1 with its own PREFECT_HOME, until stopped."""

    def __init__(self, home: Path):
        self.port, self.home = _free_port(), home
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.proc = None

    def __enter__(self) -> PrefectServer:
        import httpx

        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_UI_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        self.log = open(self.home / "server.log", "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        self.__exit__()
        raise SystemExit(f"the Prefect server did not start; see {self.home / 'server.log'}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


# ---------------------------------------------------------------- the report


def machine() -> dict:
    import duckdb
    import pandera
    import polars
    import prefect

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem / 1024 / 1024, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "polars": polars.__version__,
        "duckdb": duckdb.__version__,
        "pandera": pandera.__version__,
        "prefect": prefect.__version__,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def verdict(name: str, value: float | None) -> str:
    if value is None or name not in TARGETS:
        return ""
    op, bound = TARGETS[name]
    met = value <= bound if op == "<=" else value >= bound
    return f"target {op} {bound}: {'met' if met else 'NOT met'}"


def report(args, info: dict, rows: int, steps: dict, commands: dict, ratios: dict, rss: list, load_after: str) -> str:
    lines = [
        "# dwi benchmark results",
        "",
        f"Regenerate: `python bench/run.py {' '.join(sys.argv[1:])}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC).",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB memory; load average at start "
        f"{info['load']}, at end {load_after} (shared machine: other work was running).",
        f"Versions: Python {info['python']}, polars {info['polars']}, duckdb {info['duckdb']}, "
        f"pandera {info['pandera']}, prefect {info['prefect']}.",
        "",
        f"File: synthetic ILOSTAT bulk CSV, {rows:,} rows (bench/generate.py, seeded). Medians of the runs shown.",
        "",
        "| step | runs | seconds (in-process) | wall s (process) | peak RSS MiB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in steps.items():
        lines.append(
            f"| {name} | {r['runs']} | {r.get('seconds', float('nan')):.2f} | {r['wall']:.2f} | {r['rss_mib']:.0f} |"
        )
    for name, r in commands.items():
        lines.append(f"| {name} | {r['runs']} | | {r['wall']:.2f} | {r['rss_mib']:.0f} |")
    lines += ["", "| ratio | value | target |", "| --- | --- | --- |"]
    for name, value in ratios.items():
        lines.append(f"| {name} | {'-' if value is None else f'{value:.2f}'} | {verdict(name, value)} |")
    ingest = commands.get("(d) dwi ingest, server")
    if ingest:
        ok = ingest["rss_mib"] / 1024 <= RSS_TARGET_GIB
        lines.append(
            f"| peak RSS of the ingest (GiB) | {ingest['rss_mib'] / 1024:.2f} | "
            f"target <= {RSS_TARGET_GIB}: {'met' if ok else 'NOT met'} |"
        )
    if rss:
        lines += [
            "",
            "Peak RSS by file size (sub-linear growth means bounded memory):",
            "",
            "| rows | (a) DuckDB MiB | (b) dwi MiB | (b) seconds |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {n:,} | {a:.0f} | {b:.0f} | {s:.2f} |" for n, a, b, s in rss]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="dwi benchmark (see the module docstring)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="5k rows, one run each, no Prefect server or dwi run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--heavy-repeat", type=int, default=1, help="runs of (b), (c) and (d), the slow steps")
    ap.add_argument("--rss-rows", default="", help="other row counts for the RSS growth table, e.g. 1000000,3000000")
    ap.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    ap.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:  # a child: one step, its in-process seconds as the last line
        print(json.dumps({"seconds": STEPS[args.step](args.file.resolve(), args.warehouse.resolve())}))
        return
    from bench.generate import N_CELLS, generate

    rows = 5_000 if args.quick else args.rows
    too_many = [n for n in [rows, *(int(x) for x in args.rss_rows.split(",") if x)] if n > 3 * N_CELLS]
    if too_many:  # fail before the long steps, not after them
        raise SystemExit(f"bench/generate.py makes at most {3 * N_CELLS:,} rows; asked for {too_many}")
    repeat = 1 if args.quick else args.repeat
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="dwi-bench-"))
    try:
        file = (
            generate(rows, BENCH / "data" / f"ilostat_{rows}.csv")
            if not (BENCH / "data" / f"ilostat_{rows}.csv").is_file()
            else BENCH / "data" / f"ilostat_{rows}.csv"
        )
        print(f"file: {file} ({rows:,} rows); work dir {work}", flush=True)
        steps = {"(a) DuckDB read_csv CTAS": run_step("yardstick", file, work, repeat)}
        heavy = 1 if args.quick else args.heavy_repeat
        steps["(b) dwi data path"] = run_step("dwi", file, work, heavy)
        steps["(c) pandas + pandera + DuckDB"] = run_step("peer", file, work, heavy)
        for name, r in steps.items():
            print(
                f"{name}: {r['seconds']:.2f} s in-process, {r['wall']:.2f} s wall, {r['rss_mib']:.0f} MiB", flush=True
            )
        a, b, c = (steps[k]["seconds"] for k in steps)
        commands: dict[str, dict] = {}
        modes = {"no server": {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}}
        server = None
        if not args.quick:
            home = work / "prefect-server"
            home.mkdir()
            server = PrefectServer(home).__enter__()
            modes = {"server": {**modes["no server"], "PREFECT_API_URL": server.url}, **modes}
        try:
            for mode, env in modes.items():
                env = {
                    **env,
                    "PREFECT_HOME": str(work / f"prefect-home-{mode.replace(' ', '-')}"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                    "DO_NOT_TRACK": "1",
                }
                wh = work / f"ingest-{mode.replace(' ', '-')}.duckdb"

                def fresh(wh=wh):
                    for f in wh.parent.glob(wh.name + "*"):
                        f.unlink()

                commands[f"(d) dwi ingest, {mode}"] = run_command(
                    f"dwi ingest ({mode})",
                    [str(BIN / "dwi"), "ingest", str(file), "--format", "ilostat", "--warehouse", str(wh)],
                    env,
                    heavy,
                    fresh,
                )
                fresh()
                if args.quick:
                    continue
                run_wh = work / f"run-{mode.replace(' ', '-')}.duckdb"
                exports = work / f"exports-{mode.replace(' ', '-')}"

                def fresh_run(run_wh=run_wh, exports=exports):
                    for f in run_wh.parent.glob(run_wh.name + "*"):
                        f.unlink()
                    shutil.rmtree(exports, ignore_errors=True)

                dwi_run = [
                    str(BIN / "dwi"),
                    "run",
                    "--raw",
                    str(ROOT / "raw"),
                    "--warehouse",
                    str(run_wh),
                    "--exports",
                    str(exports),
                ]
                flow = [sys.executable, str(BENCH / "one_task_flow.py")]
                commands[f"one-task Prefect flow, {mode}"] = run_command("one-task flow", flow, env, repeat)
                commands[f"dwi run on raw/, {mode}"] = run_command("dwi run", dwi_run, env, repeat, fresh_run)
                commands[f"dwi run no-op re-run, {mode}"] = run_command("dwi run (no-op)", dwi_run, env, repeat)
                commands[f"dwi run --no-exports on raw/, {mode}"] = run_command(
                    "dwi run --no-exports", [*dwi_run, "--no-exports"], env, repeat, fresh_run
                )
        finally:
            if server:
                server.__exit__()
        for name, r in commands.items():
            print(f"{name}: {r['wall']:.2f} s wall, {r['rss_mib']:.0f} MiB", flush=True)

        def ratio(x: str, y: str) -> float | None:
            return commands[x]["wall"] / commands[y]["wall"] if x in commands and y in commands else None

        ratios = {
            "b/a": b / a,
            "c/b": c / b,
            "d/a (server)": commands["(d) dwi ingest, server"]["wall"] / a
            if "(d) dwi ingest, server" in commands
            else None,
            "d/a (no server)": commands["(d) dwi ingest, no server"]["wall"] / a,
        }
        for mode in ("server", "no server"):
            ratios[f"dwi run / one-task flow ({mode})"] = ratio(
                f"dwi run on raw/, {mode}", f"one-task Prefect flow, {mode}"
            )
            ratios[f"dwi run --no-exports / one-task flow ({mode})"] = ratio(
                f"dwi run --no-exports on raw/, {mode}", f"one-task Prefect flow, {mode}"
            )
            ratios[f"no-op re-run / one-task flow ({mode})"] = ratio(
                f"dwi run no-op re-run, {mode}", f"one-task Prefect flow, {mode}"
            )
        for name, value in ratios.items():
            print(f"ratio {name}: {'skipped' if value is None else f'{value:.2f}'} {verdict(name, value)}", flush=True)
        rss = []
        for n in [int(x) for x in args.rss_rows.split(",") if x]:
            small = BENCH / "data" / f"ilostat_{n}.csv"
            if not small.is_file():
                generate(n, small)
            ra, rb = run_step("yardstick", small, work, 1), run_step("dwi", small, work, 1)
            rss.append((n, ra["rss_mib"], rb["rss_mib"], rb["seconds"]))
        rss.append((rows, steps["(a) DuckDB read_csv CTAS"]["rss_mib"], steps["(b) dwi data path"]["rss_mib"], b))
        text = report(
            args, info, rows, steps, commands, ratios, sorted(rss), " ".join(f"{x:.2f}" for x in os.getloadavg())
        )
        text += (
            f"\n(b) loaded: {steps['(b) dwi data path']['detail']}. (b) includes sha256 of the file, "
            "DuckDB's read of the file, ILOSTAT mapping, harmonise, the row rules (inside DuckDB, see "
            "dwi/bulk.py), quarantine, the DuckDB append, the whole-file key and cross-row checks, and "
            "the build of every view and derived table "
            "(`dwi ingest` minus interpreter start-up). `dwi ingest` runs no Prefect flow, so (d) with and "
            "without a server differ only by noise.\n"
        )
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
