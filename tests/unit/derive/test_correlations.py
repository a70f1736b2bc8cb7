"""correlations view and `dwi correlate`: n, r and flags pinned for the seed data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from dwi.cli import app
from dwi.derive.correlations import correlate
from tests.conftest import RAW
from tests.views import records as rows

# The review's figures (section 2.1) and the IMF constant-price levels.
JOB_INSECURE = {2005: 8.6, 2006: 5.2, 2007: 4.2, 2008: 4.4, 2010: 3.3, 2011: 3.0}
GDP_REAL = {2004: 6919.4, 2005: 7590.7, 2006: 8402.9, 2007: 9150.8, 2008: 9452.8, 2009: 9566.2}
# The rule: growth derived from the IMF levels where it exists (2001-2009), else the reported figure.
GROWTH = {y: 100 * (GDP_REAL[y] / GDP_REAL[y - 1] - 1) for y in range(2005, 2010)} | {2010: 7.0, 2011: 7.5}


def view(con, x: str, y: str) -> dict:
    found = rows(con, "SELECT * FROM correlations WHERE x_indicator = $x AND y_indicator = $y", x=x, y=y)
    assert len(found) == 1
    return found[0]


def test_view_columns_are_the_issue_contract(db):
    cols = [r["column_name"] for r in rows(db, "SELECT column_name FROM (DESCRIBE correlations)")]
    assert cols[:14] == [
        "x_indicator",
        "y_indicator",
        "scope",
        "observations_used",
        "n",
        "pearson_r",
        "pearson_p",
        "pearson_ci_low",
        "pearson_ci_high",
        "spearman_rho",
        "spearman_p",
        "diff_pearson_r",
        "diff_n",
        "flags",
    ]


def test_review_claim_job_insecurity_vs_gdp_growth(db):
    row = view(db, "JOB_INSECURE_SHARE", "GDP_GROWTH")
    years = sorted(JOB_INSECURE)
    x, y = [JOB_INSECURE[t] for t in years], [GROWTH[t] for t in years]
    assert row["n"] == 6
    assert row["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert row["pearson_r"] == pytest.approx(0.4246, abs=1e-4)  # positive: not the "close negative" claimed
    assert row["pearson_p"] == pytest.approx(stats.pearsonr(x, y).pvalue)
    assert row["spearman_rho"] == pytest.approx(stats.spearmanr(x, y).statistic)
    assert row["pearson_ci_low"] < 0 < row["pearson_ci_high"]
    # origin of each point: derived from IMF levels 2005-2008, reported (provisional) 2010, reported 2011
    assert "2005: x review2012_national, y derived/imf_weo_2024_gdp" in row["observations_used"]
    assert "2010: x review2012_national, y reported_gdp_growth (P)" in row["observations_used"]
    assert "2009" not in row["observations_used"]  # no job-insecurity figure for 2009
    # differences: consecutive years with the same origin at both ends: 2006, 2007, 2008
    dx = [JOB_INSECURE[t] - JOB_INSECURE[t - 1] for t in (2006, 2007, 2008)]
    dy = [GROWTH[t] - GROWTH[t - 1] for t in (2006, 2007, 2008)]
    assert row["diff_n"] == 3
    assert row["diff_pearson_r"] == pytest.approx(np.corrcoef(dx, dy)[0, 1])
    assert "small sample (n=6 < 8)" in row["flags"]
    assert "trending" in row["flags"] and "mixed sources in GDP_GROWTH" in row["flags"]


def test_job_insecurity_vs_gdp_level(db):
    row = view(db, "JOB_INSECURE_SHARE", "GDP_REAL")
    x, y = [JOB_INSECURE[t] for t in range(2005, 2009)], [GDP_REAL[t] for t in range(2005, 2009)]
    assert row["n"] == 4
    assert row["pearson_r"] == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert row["pearson_p"] > 0.05  # r = -0.93 but n = 4


def test_tiny_sample_gives_a_row_with_null_statistics(db):
    row = view(db, "UNEMP_RATE", "GDP_GROWTH")
    assert row["n"] == 1  # 2009 only: 2008's 6.6 is implied by the text ('the same level'), left out
    assert row["pearson_r"] is None and row["spearman_rho"] is None and row["pearson_ci_low"] is None
    assert "too few observations" in row["flags"] and "UNEMP_RATE 2008 (implied)" in row["flags"]


def test_regional_pairs(db):
    row = view(db, "CBA_COVERAGE", "OSH_ADOPTION_PER_1000")
    assert row["scope"] == "regions" and row["n"] == 16 and row["diff_n"] is None
    assert "KZ " not in row["observations_used"]  # the national total row is not a region
    assert "influential point: KZ-27 West Kazakhstan Region" in row["flags"]
    assert "reference periods differ" in row["flags"]
    small = view(db, "CBA_COVERAGE", "ENT_SMALL_SHARE")
    assert small["n"] == 16 and small["pearson_r"] < 0


def test_no_overlap_does_not_crash(db):
    row = correlate(db, "JOB_INSECURE_SHARE", "CBA_COVERAGE", "national")
    assert row["n"] == 0 and row["pearson_r"] is None and "no overlapping observations" in row["flags"]


def test_cli_prints_the_same_figures(warehouse, db):
    result = CliRunner().invoke(
        app,
        ["correlate", "JOB_INSECURE_SHARE", "GDP_GROWTH", "--warehouse", str(warehouse)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    r = view(db, "JOB_INSECURE_SHARE", "GDP_GROWTH")["pearson_r"]
    assert f"{r:.4f}" in result.output


def test_cli_unknown_indicator_is_one_line_and_exit_2(warehouse):
    result = CliRunner().invoke(app, ["correlate", "NOPE", "GDP_GROWTH", "--warehouse", str(warehouse)])
    assert result.exit_code == 2
    assert "unknown indicator 'NOPE'" in result.output and "Traceback" not in result.output


def test_build_with_one_source_keeps_every_pair_row(tmp_path):
    """Only the IMF file loaded: no review data at all. The run succeeds and every pair still has its row."""
    import shutil

    import yaml

    from dwi import stages
    from dwi.store.warehouse import connect_read_only

    raw = tmp_path / "raw"
    (raw / "imf_weo_2024").mkdir(parents=True)
    shutil.copy(RAW / "imf_weo_2024" / "gdp_levels.csv", raw / "imf_weo_2024")
    manifest = yaml.safe_load((RAW / "manifest.yaml").read_text(encoding="utf-8"))
    manifest["sources"] = [s for s in manifest["sources"] if s["id"] == "imf_weo_2024_gdp"]
    (raw / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    stages.run(raw, tmp_path / "wh.duckdb")
    con = connect_read_only(tmp_path / "wh.duckdb")
    try:
        found = rows(con, "SELECT x_indicator, y_indicator, n, pearson_r, flags FROM correlations")
    finally:
        con.close()
    assert len(found) == 5
    assert all(r["n"] == 0 and r["pearson_r"] is None and "no overlapping" in r["flags"] for r in found)
