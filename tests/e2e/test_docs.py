"""The documentation builds (MkDocs, strict: a broken link or anchor fails), its generated pages hold what the
code states (the views' columns from the YAML beside the SQL, every command and option, every format), and the
README stays short and names the quickstart commands that CI and scripts/ really run."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from dwi import formats
from dwi.cli import app
from tests.conftest import ROOT

README = ROOT / "README.md"
README_LIMIT = 10_000  # bytes


def _text(html_text: str) -> str:
    """Built HTML as text: inline tags dropped, other tags a space, entities decoded, spaces collapsed."""
    text = re.sub(r"</?(code|a|em|strong)\b[^>]*>", "", html_text)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def _section(page: Path, heading: str) -> str:
    """The text from the heading with this id to the next heading of the same level."""
    raw = page.read_text(encoding="utf-8")
    start = re.search(rf'<(h[1-6]) id="{re.escape(heading)}"', raw)
    assert start, f"no heading {heading} in {page}"
    end = raw.find(f"<{start.group(1)} ", start.end())
    return _text(raw[start.start() : end if end > 0 else None])


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_views_page_is_generated_from_the_yaml_beside_the_sql(site):
    page = site / "reference" / "views" / "index.html"
    marts = yaml.safe_load((ROOT / "dwi/store/sql/marts/_marts.yml").read_text(encoding="utf-8"))["views"]
    staging = yaml.safe_load((ROOT / "dwi/store/sql/staging/_staging.yml").read_text(encoding="utf-8"))["views"]
    observations = next(v for v in marts if v["name"] == "observations")
    assert {"indicator_code", "source_row", "value_reported", "classif2"} <= set(observations["columns"])
    section = _section(page, "observations")
    for column, meaning in observations["columns"].items():
        assert f"{column} {_text(str(meaning).replace('`', ''))}" in section, column
    for view in marts + staging:
        section = _section(page, view["name"])
        for column in view["columns"]:
            assert re.search(rf"\b{column}\b", section), (view["name"], column)


def test_commands_page_has_every_command_and_option(site):
    page = site / "commands" / "index.html"
    for name, command in typer.main.get_command(app).commands.items():
        section = _section(page, f"dwi-{name}")
        assert f"dwi {name} [OPTIONS]" in section, name
        for param in command.params:
            for flag in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
                if flag.startswith("--"):
                    assert flag in section, (name, flag)
    text = _text(page.read_text(encoding="utf-8"))
    assert "--warehouse PATH DuckDB file [env DWI_WAREHOUSE]" in text and "DWI_CHUNK_BYTES" in text


def test_sources_page_lists_every_format_and_rule(site):
    page = _text((site / "sources" / "index.html").read_text(encoding="utf-8"))
    for fmt in formats.FORMATS.values():
        assert f"{fmt.name}" in page and _text(fmt.summary) in page, fmt.name
    for rule, expected in formats.schema_messages().items():
        assert f"{rule} {_text(expected)}" in page, rule


def test_readme_is_at_most_10_kb():
    assert len(README.read_bytes()) <= README_LIMIT


def test_readme_quickstart_commands_are_the_ones_ci_and_scripts_run():
    readme = README.read_text(encoding="utf-8")
    assert "bash scripts/run.sh" in readme and "bash scripts/test.sh" in readme
    assert re.search(r"^bash scripts/test\.sh\b", (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.MULTILINE)
    run = (ROOT / "scripts" / "run.sh").read_text(encoding="utf-8")
    test = (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")
    assert "bash scripts/setup.sh" in run and "bash scripts/setup.sh" in test
    assert re.search(r"^exec \.venv/bin/dwi run\b", run, re.MULTILINE)  # the main job on raw/
    assert re.search(r"^exec \.venv/bin/python -m pytest\b", test, re.MULTILINE)  # the test suite


def test_readme_lists_every_command():
    readme = README.read_text(encoding="utf-8")
    for name in typer.main.get_command(app).commands:
        assert f"`dwi {name}" in readme, name


@pytest.mark.parametrize("doc", ["README.md", "CONTRIBUTING.md"])
def test_links_of_the_top_level_documents_resolve(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t]
    assert targets, doc
    for target in targets:
        assert (ROOT / target).exists(), f"{doc} links to {target}, which does not exist"
