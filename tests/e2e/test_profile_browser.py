"""`dwi profile` on the embedded raw/ data (the bureau's table, the review): the figures of issue 15, the
workbook's sheets, and both pages in a real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright): no console error, no request but the page itself, every chart drawn, a screenshot saved; the
Russian page's text is Russian."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from dwi.cli import app
from tests.conftest import ROOT
from tests.e2e.test_report_browser import ARGS, CHROMIUM


@pytest.fixture(scope="module")
def pages(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("profile")
    runner = CliRunner()
    for lang in ("en", "ru"):
        result = runner.invoke(
            app, ["profile", "--country", "KAZ", "--lang", lang, "--out", str(out), "--warehouse", str(warehouse)]
        )
        assert result.exit_code == 0, result.output
    return out


def _text(path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_the_page_shows_the_bureaus_figures_and_what_is_missing(pages):
    html = (pages / "profile_KAZ_en.html").read_text(encoding="utf-8")
    assert _year_values(html, "EMPL_EPR", "total")[2011] == "77.0"
    unemployment = _year_values(html, "EMPL_UR", "total")
    assert (unemployment[2011], unemployment[2018]) == ("5.4", "4.9*")  # printed "4,9*" by the bureau
    ur = _text_of(html[html.index('id="ind-EMPL_UR"') :][:8000])
    assert "Fell from 10.8 % in 2001 to 4.9 % in 2020" in ur
    assert "kazstat_decent_work" in ur
    assert 'id="no-main"' in html
    missing = _text_of(html[html.index('id="no-main"') :][:2000])
    assert "Working poverty rate" in missing and "Trade union density rate" in missing
    assert "Unemployment rate" not in missing.split(".")[0]
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def _year_values(html: str, indicator: str, sex: str) -> dict[int, str]:
    """The indicator's values-by-year table on the page: {year: cell} of one sex's row."""
    block = html[html.index(f'id="ind-{indicator}"') :]
    table = block[block.index('<details class="values">') :]
    table = table[: table.index("</table>")]
    years = [int(y) for y in re.findall(r"<th>(\d{4})</th>", table)]
    row = re.search(rf"<tr><th>{sex}</th>(.*?)</tr>", table).group(1)
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    return dict(zip(years, cells, strict=True))


def _text_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


def test_the_workbook_has_a_sheet_per_element_and_coverage(pages):
    import openpyxl

    book = openpyxl.load_workbook(pages / "profile_KAZ_en.xlsx", read_only=True)
    names = book.sheetnames
    assert (
        len(
            [
                n
                for n in names
                if n[:4] in ("EMPL", "EARN", "TIME", "FAML", "ABOL", "STAB", "EQUA", "SAFE", "SECU", "DIAL", "CONT")
            ]
        )
        == 11
    )
    assert "coverage" in names
    rows = list(book[next(n for n in names if n.startswith("EMPL"))].iter_rows(values_only=True))
    header = rows[0]
    i = {c: header.index(c) for c in ("indicator", "sex", "year", "value", "source_id")}
    got = {
        (r[i["indicator"]], r[i["year"]]): r[i["value"]]
        for r in rows[1:]
        if r[i["sex"]] == "T" and r[i["source_id"]] == "kazstat_decent_work"
    }
    assert got[("EMPL_EPR", 2011)] == pytest.approx(77.0)
    assert got[("EMPL_UR", 2011)] == pytest.approx(5.4) and got[("EMPL_UR", 2018)] == pytest.approx(4.9)


def test_the_russian_page_is_russian(pages):
    text = _text(pages / "profile_KAZ_ru.html")
    letters = re.findall(
        r"[A-Za-zА-Яа-яЁё]", re.sub(r"\b[A-Z0-9_]{3,}\b|kazstat_decent_work|review2012_\w+|\w+_\w+", " ", text)
    )
    cyrillic = sum(1 for c in letters if re.match(r"[А-Яа-яЁё]", c))
    assert cyrillic / len(letters) > 0.85, cyrillic / len(letters)
    assert "Уровень безработицы" in text and "Возможность найти работу" in text
    assert "Снизился с 10,8 % в 2001 г. до 4,9 % в 2020 г." in text
    assert "Unemployment rate" not in text and "Employment opportunities" not in text


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: run scripts/setup-browser.sh")
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_profile_renders_offline_in_chromium(pages, lang):
    from playwright.sync_api import sync_playwright

    path = pages / f"profile_KAZ_{lang}.html"
    url = path.as_uri()
    console_errors, blocked = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
            page.on("pageerror", lambda e: console_errors.append(str(e)))

            def route(r):
                if r.request.url == url:
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(url)
            charts = page.evaluate(
                "Array.from(document.querySelectorAll('div.chart')).map(el => [el.dataset.indicator, "
                "el.querySelectorAll('svg path').length, el.querySelector('svg').getBoundingClientRect().width])"
            )
            wide = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            lang_attr = page.evaluate("document.documentElement.lang")
            out = ROOT / "test-artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / f"profile_{lang}.png"), full_page=True)
        finally:
            browser.close()
    assert console_errors == [] and blocked == []
    assert len(charts) >= 10
    assert [c for c in charts if c[1] < 3 or c[2] < 100] == []  # every chart drawn, with its lines
    assert wide  # nothing runs off the page: wide tables scroll inside their box
    assert lang_attr == lang
    assert (ROOT / "test-artifacts" / f"profile_{lang}.png").stat().st_size > 10_000
