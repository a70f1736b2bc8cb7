"""dwi's benchmark: one command, synthetic ILOSTAT-shaped files, every measure; writes bench/RESULTS.md.

    python bench/run.py --rows 10000000 --rss-rows 1000000,100000000   # full run (long; a quiet machine)
    python bench/run.py --quick                                         # 5k rows, one run each: a smoke test

Every measure is a whole process (wall seconds; peak RSS of that process from os.wait4), median of --repeat
runs, all in one run of this script so that the ratios compare like with like:
  (a) yardstick: DuckDB's read_csv of the file, column types declared (obs_value DOUBLE, the rest VARCHAR),
      into a table in a database file (CREATE TABLE AS, CHECKPOINT)
  (b) dwi's data path in one process, timed after the imports (dwi.stages.ingest: read, harmonise, check,
      stage, load, build), for the breakdown of (d)
  (d) `dwi ingest FILE` against a running Prefect server; (d') the same on the file with 1% broken rows
  `dwi run` on the embedded raw/ data against the same server, and a Prefect flow with one task that does
      nothing (bench/one_task_flow.py), the least a flow run costs
  peak RSS of `dwi ingest` at other file sizes (--rss-rows): flat when memory is bounded.
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
TARGETS = {"d/a": 2.0, "d'/a (1% broken)": 2.0, "dwi run / one-task flow": 1.3}
RSS_TARGET_GIB = 1.5


# ---------------------------------------------------------------- steps run in a child process


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
    counts = {"rows_in": batch.rows_in, "rows_loaded": batch.rows_loaded, "rows_quarantined": batch.rows_quarantined}
    print(json.dumps(counts), file=sys.stderr)
    return seconds


STEPS = {"yardstick": step_yardstick, "dwi": step_dwi}


# ---------------------------------------------------------------- measuring processes


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None, timeout: float = 7200) -> dict:
    """Run a command; wall seconds, its own peak RSS (os.wait4: this child only), exit code, output."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                proc.kill()
            time.sleep(0.01)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read().decode(errors="replace")
    return {"wall": wall, "rss_mib": usage.ru_maxrss / 1024, "code": os.waitstatus_to_exitcode(status), "output": text}


def repeated(label: str, cmd: list[str], env: dict, repeat: int, before=None, ok=(0,)) -> dict:
    """Medians of `repeat` runs of a command (`before` runs before each, e.g. to remove the warehouse)."""
    runs = []
    for _ in range(repeat):
        if before:
            before()
        r = measure(cmd, env)
        if r["code"] not in ok:
            raise SystemExit(f"{label} failed ({r['code']}):\n{r['output'][-3000:]}")
        runs.append(r)
    out = {k: statistics.median(r[k] for r in runs) for k in ("wall", "rss_mib")}
    seconds = [s for s in (_seconds(r["output"]) for r in runs) if s is not None]
    if seconds:  # a step of this script: its in-process time
        out["seconds"] = statistics.median(seconds)
    out["runs"], out["output"] = len(runs), runs[-1]["output"]
    return out


def _seconds(output: str) -> float | None:
    last = (output.strip().splitlines() or [""])[-1]
    try:
        return float(json.loads(last)["seconds"])
    except (ValueError, KeyError, TypeError):
        return None


def step(name: str, file: Path, wh: Path, env: dict, repeat: int) -> dict:
    def fresh() -> None:
        for leftover in wh.parent.glob(wh.name + "*"):
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

    cmd = [sys.executable, __file__, "--step", name, "--file", str(file), "--warehouse", str(wh)]
    return repeated(name, cmd, env, repeat, fresh)


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


def verdict(name: str, value: float) -> str:
    bound = TARGETS.get(name)
    return "" if bound is None else f"target <= {bound}: {'met' if value <= bound else 'NOT met'}"


def report(command: str, info: dict, rows: int, results: dict, ratios: dict, rss: list, load_after: str) -> str:
    lines = [
        "# dwi benchmark results",
        "",
        f"Regenerate: `{command}` ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC).",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB memory; load average at start "
        f"{info['load']}, at end {load_after}.",
        f"Versions: Python {info['python']}, polars {info['polars']}, duckdb {info['duckdb']}, "
        f"pandera {info['pandera']}, prefect {info['prefect']}.",
        "",
        f"Files: synthetic ILOSTAT-shaped CSV (bench/generate.py, seeded: codes, classif1, obs_status flags, notes), "
        f"{rows:,} rows, clean and with 1% broken rows. Each measure is a whole process, median of the runs shown.",
        "",
        "| measure | runs | wall s | in-process s | peak RSS MiB |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        inside = f"{r['seconds']:.2f}" if "seconds" in r else ""
        lines.append(f"| {name} | {r['runs']} | {r['wall']:.2f} | {inside} | {r['rss_mib']:.0f} |")
    lines += ["", "| ratio (wall / wall) | value | target |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value:.2f} | {verdict(name, value)} |" for name, value in ratios.items()]
    if rss:
        peak = max(m for _, m, _ in rss) / 1024
        lines += [
            "",
            f"Peak RSS of `dwi ingest` by file size (target: at most {RSS_TARGET_GIB} GiB and flat; "
            f"{'met' if peak <= RSS_TARGET_GIB else 'NOT met'}: at most {peak:.2f} GiB):",
            "",
            "| rows | peak RSS MiB | wall s |",
            "| --- | --- | --- |",
        ]
        lines += [f"| {n:,} | {m:.0f} | {s:.1f} |" for n, m, s in rss]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="dwi benchmark (see the module docstring)")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--quick", action="store_true", help="5k rows, one run each: a smoke test")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rss-rows", default="", help="other row counts for the peak-RSS table, e.g. 1000000,100000000")
    ap.add_argument("--data", type=Path, default=BENCH / "data", help="where generated files are kept")
    ap.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    ap.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:  # a child: one step, its in-process seconds as the last line
        print(json.dumps({"seconds": STEPS[args.step](args.file.resolve(), args.warehouse.resolve())}))
        return
    from bench.generate import generate

    rows = 5_000 if args.quick else args.rows
    repeat = 1 if args.quick else args.repeat
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="dwi-bench-"))

    def data(n: int, broken: float = 0.0) -> Path:
        name = f"ilostat_{n}.csv" if not broken else f"ilostat_{n}_broken{broken:g}.csv"
        path = args.data / name
        return path if path.is_file() else generate(n, path, broken=broken)

    try:
        clean, broken = data(rows), data(rows, 0.01)
        print(f"files: {clean}, {broken}; work dir {work}", flush=True)
        with PrefectServer(_home(work, "server")) as server:
            env = {
                **os.environ,
                "PREFECT_API_URL": server.url,
                "PREFECT_HOME": str(_home(work, "client")),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                "DO_NOT_TRACK": "1",
                "CI": "1",
            }
            results = {
                "(a) DuckDB read_csv, typed, into a table file": step(
                    "yardstick", clean, work / "a.duckdb", env, repeat
                ),
                "(b) dwi data path (in process, after imports)": step("dwi", clean, work / "b.duckdb", env, repeat),
            }
            wh = work / "d.duckdb"

            def fresh(wh: Path = wh) -> None:
                for leftover in wh.parent.glob(wh.name + "*"):
                    shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()

            ingest = [str(BIN / "dwi"), "ingest", "--format", "ilostat", "--warehouse", str(wh)]
            results["(d) dwi ingest, Prefect server running"] = repeated(
                "ingest", [*ingest, str(clean)], env, repeat, fresh
            )
            results["(d') dwi ingest, 1% broken rows"] = repeated(
                "ingest broken", [*ingest, str(broken)], env, repeat, fresh, ok=(1,)
            )
            results["one-task Prefect flow"] = repeated(
                "one-task flow", [sys.executable, str(BENCH / "one_task_flow.py")], env, repeat
            )
            run_wh, exports = work / "run.duckdb", work / "exports"
            run_cmd = [
                str(BIN / "dwi"),
                "run",
                "--raw",
                str(ROOT / "raw"),
                "--warehouse",
                str(run_wh),
                "--exports",
                str(exports),
            ]
            results["dwi run on raw/ (exports and report included)"] = repeated(
                "dwi run",
                run_cmd,
                env,
                repeat,
                lambda: (fresh(run_wh), shutil.rmtree(exports, ignore_errors=True)),
                ok=(0, 1),
            )
            rss = []
            for n in sorted({rows, *(int(x) for x in args.rss_rows.split(",") if x)}):
                if n == rows:
                    r = results["(d) dwi ingest, Prefect server running"]
                else:
                    file = data(n)
                    r = repeated(f"ingest {n}", [*ingest, str(file)], env, 1, fresh)
                    if n > 20_000_000:
                        file.unlink()  # the biggest files take many GB
                rss.append((n, r["rss_mib"], r["wall"]))
                print(f"rss at {n:,} rows: {r['rss_mib']:.0f} MiB, {r['wall']:.1f} s", flush=True)
        a = results["(a) DuckDB read_csv, typed, into a table file"]["wall"]
        ratios = {
            "d/a": results["(d) dwi ingest, Prefect server running"]["wall"] / a,
            "d'/a (1% broken)": results["(d') dwi ingest, 1% broken rows"]["wall"] / a,
            "dwi run / one-task flow": results["dwi run on raw/ (exports and report included)"]["wall"]
            / results["one-task Prefect flow"]["wall"],
        }
        for name, r in results.items():
            inside = f", {r['seconds']:.2f} s in process" if "seconds" in r else ""
            print(f"{name}: {r['wall']:.2f} s wall{inside}, {r['rss_mib']:.0f} MiB", flush=True)
        for name, value in ratios.items():
            print(f"ratio {name}: {value:.2f} {verdict(name, value)}", flush=True)
        command = "python bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
        text = report(command.strip(), info, rows, results, ratios, rss, " ".join(f"{x:.2f}" for x in os.getloadavg()))
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _home(work: Path, name: str) -> Path:
    home = work / f"prefect-{name}"
    home.mkdir()
    return home


if __name__ == "__main__":
    main()
