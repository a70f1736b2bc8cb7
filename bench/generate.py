"""Synthetic ILOSTAT-shaped bulk CSV for the benchmark: deterministic (seeded), written in chunks.

    python bench/generate.py --rows 1000000            # -> bench/data/ilostat_1000000.csv

Layout (ILOSTAT bulk download, codes only): ref_area (200 ISO3-like codes, KAZ among them), source,
indicator (50 codes, EMP_TEMP_SEX_AGE_NB among them), sex (SEX_T/SEX_M/SEX_F, T = M + F exactly: values
are drawn as whole thousandths), classif1 (20 codes), time (2000-2024; earlier years too when more rows are
asked for than 25 years hold, back to 1800 and beyond, as ILOSTAT's history goes: 100M rows reach 1858),
obs_value (3 decimals), sparse obs_status, sparse notes. One (ref_area, indicator, classif1, year) cell gives 3
rows (T, M, F); cells are a fixed pseudo-random subset of the possible ones, written in ILOSTAT's sort order.
`--broken 0.01` breaks one cell in 1% of the rows (a value that is not a number, a time that is not a year, an
unknown sex), for the benchmark's quarantine path.
"""

from __future__ import annotations

import argparse
import string
import sys
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).resolve().parent / "data"
COLUMNS = [
    "ref_area",
    "source",
    "indicator",
    "sex",
    "classif1",
    "time",
    "obs_value",
    "obs_status",
    "note_classif",
    "note_indicator",
    "note_source",
]
YEARS = list(range(2000, 2025))
CHUNK_CELLS = 400_000
SEED = 20121126


def _codes(n: int, seed: int, length: int, keep: str) -> list[str]:
    """n distinct upper-case codes of `length` letters (seeded), with `keep` first."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(string.ascii_uppercase))
    out = [keep]
    while len(out) < n:
        code = "".join(rng.choice(letters, length))
        if code not in out:
            out.append(code)
    return out


AREAS = _codes(200, 1, 3, "KAZ")
INDICATORS = ["EMP_TEMP_SEX_AGE_NB"] + [
    f"{c}_{d}_SEX_{e}_NB"
    for c, d, e in zip(_codes(49, 2, 3, "EMP"), _codes(49, 3, 4, "TEMP"), _codes(49, 4, 3, "ECO"), strict=True)
]
CLASSIF1 = ["AGE_YTHADULT_YGE15"] + [f"ECO_SECTOR_{c}" for c in _codes(19, 5, 3, "TOT")]
PER_YEAR = len(AREAS) * len(INDICATORS) * len(CLASSIF1)  # cells of one year
STRIDE = 2654435761  # a prime: coprime with every number of cells, so i -> i*STRIDE mod cells is a bijection


def years(rows: int) -> list[int]:
    """2000-2024, extended back by whole years when `rows` need more cells (3 rows per cell)."""
    span = max(len(YEARS), -(-rows // (3 * PER_YEAR)))
    return list(range(YEARS[-1] - span + 1, YEARS[-1] + 1))


def cells(n: int, n_cells: int) -> np.ndarray:
    """The first n cells of a fixed permutation of all cells, in sort order."""
    return np.sort((np.arange(n, dtype=np.int64) * STRIDE) % n_cells)


BROKEN = {"obs_value": ["12,5", "n/a", "1 234"], "time": ["20X1"], "sex": ["SEX_X"]}  # one rule broken each


def _break(frame: pl.DataFrame, fraction: float, seed: int) -> pl.DataFrame:
    """A seeded `fraction` of the rows with one cell broken (a value that is not a number, a time that is not
    a year, an unknown sex), for the benchmark's quarantine path."""
    rng = np.random.default_rng(seed + 7919)
    hit = rng.random(frame.height) < fraction
    kinds = [(col, bad) for col, values in BROKEN.items() for bad in values]
    which = rng.integers(0, len(kinds), frame.height)
    return frame.with_columns(
        pl.when(pl.Series(hit & np.isin(which, [i for i, k in enumerate(kinds) if k[0] == col])))
        .then(pl.Series([kinds[i][1] for i in which]))
        .otherwise(pl.col(col))
        .alias(col)
        for col in BROKEN
    )


def chunk(cell: np.ndarray, seed: int, broken: float = 0.0, span: list[int] = YEARS) -> pl.DataFrame:
    """Three rows (T, M, F) per cell."""
    rng = np.random.default_rng(seed)
    n = len(cell)
    year_i = cell % len(span)
    classif_i = (cell // len(span)) % len(CLASSIF1)
    ind_i = (cell // (len(span) * len(CLASSIF1))) % len(INDICATORS)
    area_i = cell // (len(span) * len(CLASSIF1) * len(INDICATORS))
    male = rng.integers(1, 5_000_000, n)
    female = rng.integers(1, 5_000_000, n)
    thousandths = np.stack([male + female, male, female], axis=1).ravel()
    status = rng.choice(np.array(["", "B", "E", "P", "U"]), n, p=[0.94, 0.015, 0.02, 0.015, 0.01])
    note = rng.random(n)
    rep = lambda a: np.repeat(a, 3)  # noqa: E731
    frame = pl.DataFrame(
        {
            "ref_area": np.array(AREAS)[rep(area_i)],
            "area": rep(area_i),
            "indicator": np.array(INDICATORS)[rep(ind_i)],
            "classif1": np.array(CLASSIF1)[rep(classif_i)],
            "year": rep(year_i + span[0]),
            "sex": np.tile(np.array(["SEX_T", "SEX_M", "SEX_F"]), n),
            "v": thousandths,
            "obs_status": rep(status),
            "note": rep(note),
        }
    )
    frame = frame.select(
        "ref_area",
        pl.concat_str(pl.lit("BA:"), (pl.col("area") * 7 + 1000).cast(pl.String)).alias("source"),
        "indicator",
        "sex",
        "classif1",
        pl.col("year").cast(pl.String).alias("time"),
        pl.concat_str(
            (pl.col("v") // 1000).cast(pl.String), pl.lit("."), (pl.col("v") % 1000).cast(pl.String).str.zfill(3)
        ).alias("obs_value"),
        pl.col("obs_status").replace("", None),
        pl.when(pl.col("note") < 0.02).then(pl.lit("T2:84")).alias("note_classif"),
        pl.when(pl.col("note") > 0.97).then(pl.lit("T5:1430_T35:4051")).alias("note_indicator"),
        pl.when(pl.col("note") > 0.6).then(pl.lit("R1:3903_S3:1_S4:12")).alias("note_source"),
    )
    return _break(frame, broken, seed) if broken else frame


def generate(rows: int, out: Path | None = None, seed: int = SEED, broken: float = 0.0) -> Path:
    """Write `rows` rows (plus header) to `out` (default bench/data/ilostat_<rows>.csv); returns the path.
    `broken`: the fraction of rows with one broken cell."""
    out = out or DATA / (f"ilostat_{rows}.csv" if not broken else f"ilostat_{rows}_broken{broken:g}.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    span = years(rows)
    all_cells = cells(-(-rows // 3), PER_YEAR * len(span))
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as fh:
        written = 0
        for i, start in enumerate(range(0, len(all_cells), CHUNK_CELLS)):
            frame = chunk(all_cells[start : start + CHUNK_CELLS], seed + i, broken, span)
            frame = frame.head(rows - written)
            frame.write_csv(fh, include_header=(i == 0))
            written += frame.height
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--broken", type=float, default=0.0, help="fraction of rows with one broken cell")
    args = ap.parse_args(argv)
    path = generate(args.rows, args.out, args.seed, args.broken)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
