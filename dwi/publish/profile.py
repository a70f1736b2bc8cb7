"""`dwi profile`: the decent-work country profile as one self-contained HTML page (inline SVG charts and CSS,
no script, nothing fetched) and an XLSX workbook (one sheet per element and a coverage sheet), in English or
Russian, from the views framework, profile and coverage.

Per element: each indicator's latest value with its source and flags, a sentence generated from the data, the
gap between women and men, a chart when there are two years or more (one line per sex; years without a value
are gaps; a break in series is marked), regions where the data has them, other countries of the warehouse;
then the coverage matrix and the SDG 8 panel. A value the warehouse lacks is shown as missing, never made up.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import altair as alt
import duckdb
import jinja2
import polars as pl

from dwi import __version__
from dwi.errors import DwiError
from dwi.publish.exports import metadata, views
from dwi.publish.files import replacing, write_text
from dwi.publish.report import SLOT, TEMPLATE_DIR, _filled, svg

LANGS = ("en", "ru")
SEXES = ("T", "M", "F")
SEX_COLOURS = ["#1f5fa8", "#2a9d8f", "#e76f51"]
SDG_PANEL = ("8.", "1.1.1", "5.5.2", "10.4.1")

TEXT = {
    "en": {
        "title": "Decent work country profile",
        "generated": "Generated {when} (UTC) by dwi {version} from the warehouse's framework, profile and coverage views. Works offline. Values are as the sources report them unless marked derived; a missing value stays missing.",  # noqa: E501
        "coverage": "Coverage: which indicators have national data",
        "coverage_intro": "One row per indicator of the framework, one column per year: ● a national value. Main indicators (M) without any value are marked.",  # noqa: E501
        "no_main": "Main indicators with no data for {country}: {names}.",
        "sdg": "SDG 8 panel",
        "sdg_intro": "The SDG indicators of the framework: latest national value, or no data.",
        "indicator": "Indicator",
        "tier": "Tier",
        "latest": "Latest",
        "year": "Year",
        "source": "Source",
        "flags": "Flags",
        "gap": "Women − men",
        "trend": "Trend",
        "no_data": "no data",
        "regions": "Regions ({year})",
        "region": "Region",
        "countries": "Other countries (latest value)",
        "country": "Country",
        "value": "Value",
        "sources": "Sources",
        "legal": "Legal framework indicators",
        "conventions": "ILO conventions",
        "ratified": "ratified",
        "not_ratified": "not ratified (not in the loaded list)",
        "unconfirmed": "tier unconfirmed",
        "proxy": "proxy",
        "derived": "derived",
        "break": "break in series",
        "sexes": {"T": "total", "M": "men", "F": "women"},
        "fell": "fell from {a} in {y1} to {b} in {y2}",
        "rose": "rose from {a} in {y1} to {b} in {y2}",
        "same": "was {a} in {y1} and in {y2}",
        "one": "was {a} in {y1}",
        "missing_years": "no value for {years}",
        "sex_gap": "women {f}, men {m} in {y}",
        "indicators_with_data": "{n} of {total} indicators have data",
        "contents": "Contents",
        "values": "Values by year ({unit}; * the source annotates the value)",
        "publisher": "Publisher",
        "reference_date": "Reference date",
    },
    "ru": {
        "title": "Профиль достойного труда страны",
        "generated": "Сформировано {when} (UTC) программой dwi {version} по представлениям framework, profile и coverage хранилища. Работает без сети. Значения приведены так, как их публикуют источники, если не отмечены как расчётные; отсутствующее значение остаётся отсутствующим.",  # noqa: E501
        "coverage": "Охват: по каким показателям есть национальные данные",
        "coverage_intro": "Строка — показатель системы, столбец — год: ● есть национальное значение. Основные показатели (M) без данных выделены.",  # noqa: E501
        "no_main": "Основные показатели без данных по стране {country}: {names}.",
        "sdg": "Панель ЦУР 8",
        "sdg_intro": "Показатели ЦУР в системе: последнее национальное значение или «нет данных».",
        "indicator": "Показатель",
        "tier": "Уровень",
        "latest": "Последнее",
        "year": "Год",
        "source": "Источник",
        "flags": "Отметки",
        "gap": "Женщины − мужчины",
        "trend": "Динамика",
        "no_data": "нет данных",
        "regions": "Регионы ({year})",
        "region": "Регион",
        "countries": "Другие страны (последнее значение)",
        "country": "Страна",
        "value": "Значение",
        "sources": "Источники",
        "legal": "Показатели правовой базы",
        "conventions": "Конвенции МОТ",
        "ratified": "ратифицирована",
        "not_ratified": "не ратифицирована (нет в загруженном списке)",
        "unconfirmed": "уровень не подтверждён",
        "proxy": "заменитель",
        "derived": "расчётное",
        "break": "разрыв ряда",
        "sexes": {"T": "всего", "M": "мужчины", "F": "женщины"},
        "fell": "снизился с {a} в {y1} г. до {b} в {y2} г.",
        "rose": "вырос с {a} в {y1} г. до {b} в {y2} г.",
        "same": "составлял {a} в {y1} г. и в {y2} г.",
        "one": "составлял {a} в {y1} г.",
        "missing_years": "нет значения за {years}",
        "sex_gap": "женщины {f}, мужчины {m} в {y} г.",
        "indicators_with_data": "данные есть по {n} из {total} показателей",
        "contents": "Содержание",
        "values": "Значения по годам ({unit}; * значение с примечанием источника)",
        "publisher": "Издатель",
        "reference_date": "Отчётная дата",
    },
}
UNITS_RU = {
    "percent": "%",
    "percentage points": "п. п.",
    "per 100,000 workers": "на 100 000 работающих",
    "per 10,000 employed": "на 10 000 занятых",
    "per 1,000 workers": "на 1000 работников",
    "hours": "часов",
    "ratio": "раз",
    "index": "индекс",
    "score": "балл",
    "local currency": "нац. валюта",
    "days per injury": "дней на одну травму",
    "percent of GDP": "% ВВП",
}


@dataclass
class Row:
    """One indicator of an element, as shown."""

    id: str
    name: str
    tier: str
    confirmed: bool
    unit: str
    latest: str = ""
    year: str = ""
    source: str = ""
    flags: str = ""
    gap: str = ""
    text: str = ""
    chart: str = ""  # inline SVG
    regions: list[tuple[str, str]] = field(default_factory=list)
    region_year: str = ""
    countries: list[tuple[str, str, str]] = field(default_factory=list)
    sdg: str = ""
    table: dict = field(default_factory=dict)  # {"years": [...], "rows": [(sex label, [cell, ...])]}


def number(value: float | None, lang: str, unit: str | None = None, suffix: bool = True) -> str:
    """A value as printed: one decimal for shares and rates, up to three significant digits for small numbers,
    thousands grouped; a decimal comma in Russian."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    unit = "percent" if unit == "%" else unit
    v = float(value)
    if abs(v) >= 1000:
        text = f"{v:,.0f}"
    elif unit in ("percent", "percentage points") or (abs(v) >= 1 and not v.is_integer()):
        text = f"{v:,.1f}"
    elif v == 0 or abs(v) >= 1:
        text = f"{v:,.0f}"
    else:
        text = f"{v:.2g}"
    if lang == "ru":
        text = text.replace(",", "\u00a0").replace(".", ",")
    if suffix and unit in ("percent", "percentage points"):
        text += " %" if unit == "percent" else (" п. п." if lang == "ru" else " pp")
    return text


def unit_label(unit: str | None, lang: str) -> str:
    if not unit:
        return ""
    return UNITS_RU.get(unit, unit) if lang == "ru" else ("%" if unit == "percent" else unit)


def _runs(years: list[int]) -> str:
    runs, start, prev = [], None, None
    for y in [*years, None]:
        if start is None:
            start = prev = y
        elif y == prev + 1:
            prev = y
        else:
            runs.append(f"{start}" if start == prev else f"{start}–{prev}")
            start = prev = y
    return ", ".join(runs)


def sentence(series: pl.DataFrame, lang: str, unit: str | None) -> str:
    """What the data says, in a sentence: first and last annual value ('fell from 8.2 % in 2005 to 5.4 % in
    2011'), and the years inside the span that have no value. Empty without data."""
    t = TEXT[lang]
    if series.is_empty():
        return ""
    series = series.sort("year")
    first, last = series.row(0, named=True), series.row(-1, named=True)
    a, b = number(first["value"], lang, unit), number(last["value"], lang, unit)
    if first["year"] == last["year"]:
        text = t["one"].format(a=a, y1=first["year"])
    else:
        key = "fell" if last["value"] < first["value"] else "rose" if last["value"] > first["value"] else "same"
        text = t[key].format(a=a, b=b, y1=first["year"], y2=last["year"])
        have = set(series["year"].to_list())
        gaps = [y for y in range(first["year"], last["year"] + 1) if y not in have]
        if gaps:
            text += "; " + t["missing_years"].format(years=_runs(gaps))
    return text[0].upper() + text[1:] + "."


@cache
def _line_template() -> dict:
    """A line per sex over the years (null values break the line), points, and a ring around values flagged
    as a break in series. Slots: rows, unit, domain, colours."""
    data = alt.Data(values=[{"slot": "rows"}])
    x = alt.X("year:Q", title=None, axis=alt.Axis(format="d", tickMinStep=1), scale=alt.Scale(zero=False, nice=False))
    y = alt.Y("value:Q", title=SLOT + "unit", scale=alt.Scale(zero=False))
    colour = alt.Color("sex:N", title=None, legend=alt.Legend(orient="bottom"))  # scale set per chart
    line = alt.Chart(data).mark_line(invalid="break-paths-filter-domains", strokeWidth=2).encode(x=x, y=y, color=colour)
    points = (
        alt.Chart(data)
        .transform_filter("datum.value != null")
        .mark_point(filled=True, size=30)
        .encode(x=x, y=y, color=colour)
    )
    breaks = (
        alt.Chart(data)
        .transform_filter("datum.brk")
        .mark_point(shape="diamond", size=140, filled=False, strokeWidth=2, color="#c0392b")
        .encode(x=x, y=y)
    )
    return (line + points + breaks).properties(width=380, height=150).to_dict(validate=False)


def chart(series: pl.DataFrame, lang: str, unit: str | None) -> str:
    """Inline SVG of an indicator's annual national values by sex (two years or more), else ''."""
    if series["year"].n_unique() < 2:
        return ""
    t = TEXT[lang]
    years = list(range(int(series["year"].min()), int(series["year"].max()) + 1))
    present = [s for s in SEXES if s in set(series["sex"].to_list())]
    rows = []
    for s in present:
        by_year = {r["year"]: r for r in series.filter(pl.col("sex") == s).to_dicts()}
        for y in years:
            r = by_year.get(y)
            rows.append(
                {
                    "year": y,
                    "sex": t["sexes"][s],
                    "value": None if r is None else r["value"],
                    "brk": bool(r and r["status"] and "B" in r["status"]),
                }
            )
    spec = _filled(_line_template(), {"rows": rows, "unit": unit_label(unit, lang)})
    scale = {"domain": [t["sexes"][s] for s in present], "range": [SEX_COLOURS[SEXES.index(s)] for s in present]}
    for layer in spec["layer"]:
        if "field" in layer["encoding"].get("color", {}):
            layer["encoding"]["color"]["scale"] = scale
    spec.setdefault("config", {})["font"] = "Helvetica, Arial, sans-serif"
    text = svg(spec)
    return text[text.index("<svg") :]


def _q(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    return con.sql(sql, params=params or None).pl()


# --- data --------------------------------------------------------------------------------------------------


def _require(con: duckdb.DuckDBPyConnection) -> None:
    missing = {"framework", "profile", "coverage"} - views(con)
    if missing:
        raise DwiError(f"the warehouse has no {', '.join(sorted(missing))} view(s); run `dwi run` to build them")


def countries(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT country FROM coverage ORDER BY 1").fetchall()]


def headline(values: pl.DataFrame) -> pl.DataFrame:
    """The national annual values of each indicator's preferred series: the series (rank, source) with the
    most recent year; values without classification, or the first classif1 of the series."""
    nat = values.filter(pl.col("region").is_null() & (pl.col("period") == "Y") & (pl.col("sex") != "F-M"))
    if nat.is_empty():
        return nat
    nat = nat.with_columns(pl.col("classif1").fill_null(""), pl.col("classif2").fill_null(""))
    best = (
        nat.group_by("indicator", "rank", "source_id", "source_code", "classif1", "classif2")
        .agg(pl.col("year").max().alias("last"), pl.len().alias("n"))
        .sort(["indicator", "last", "rank", "n"], descending=[False, True, False, True])
        .group_by("indicator", maintain_order=True)
        .first()
    )
    keys = ["indicator", "rank", "source_id", "source_code", "classif1", "classif2"]
    return nat.join(best.select(keys), on=keys).unique(["indicator", "sex", "year"], keep="first").sort("year")


def value_table(series: pl.DataFrame, lang: str, unit: str | None) -> dict:
    """The headline series year by year, a row per sex; '*' marks a value the source annotates, 'B' a break."""
    years = sorted(set(series["year"].to_list()))
    rows = []
    for sex in SEXES:
        part = {r["year"]: r for r in series.filter(pl.col("sex") == sex).to_dicts()}
        if part:
            cells = []
            for y in years:
                r = part.get(y)
                mark = "" if r is None else ("*" if r["note"] else "") + (f" {r['status']}" if r["status"] else "")
                cells.append("" if r is None else number(r["value"], lang, unit, suffix=False) + mark)
            rows.append((TEXT[lang]["sexes"][sex], cells))
    return {"years": years, "rows": rows, "unit": unit_label(unit, lang)}


def element_rows(
    con: duckdb.DuckDBPyConnection,
    element: dict,
    items: pl.DataFrame,
    values: pl.DataFrame,
    others: pl.DataFrame,
    region_names: dict[str, str],
    lang: str,
) -> list[Row]:
    t = TEXT[lang]
    head = headline(values)
    out = []
    for item in items.filter(pl.col("element_id") == element["element_id"]).to_dicts():
        unit = item["unit"]
        row = Row(
            item["indicator"],
            item["name_ru"] if lang == "ru" else item["name"],
            item["tier"],
            item["confirmed"],
            unit,
            sdg=item["sdg"] or "",
        )
        series = head.filter(pl.col("indicator") == item["indicator"])
        total = series.filter(pl.col("sex") == "T")
        shown = total if total.height else series.filter(pl.col("sex") == series["sex"][0]) if series.height else total
        if shown.height:
            last = shown.sort("year").row(-1, named=True)
            unit = last["unit"]
            row.latest, row.year = number(last["value"], lang, unit), str(last["year"])
            flags = [f for f in [last["status"]] if f]
            if last["derived"]:
                flags.append(t["derived"])
            if "proxy" in (last["method"] or ""):
                flags.append(t["proxy"])
            if last["note"]:
                flags.append(last["note"] if len(last["note"]) <= 90 else last["note"][:89] + "…")
            row.flags = ", ".join(flags)
            row.source = f"{last['source_id']} ({last['source_code']})"
            row.text = sentence(shown.select("year", "value"), lang, unit)
            if last["sex"] != "T":
                row.text = f"{t['sexes'][last['sex']].capitalize()}: {row.text}"
            women, men = (series.filter(pl.col("sex") == s).sort("year") for s in ("F", "M"))
            both = women.join(men, on="year", suffix="_m")
            if both.height:
                b = both.row(-1, named=True)
                row.gap = t["sex_gap"].format(
                    f=number(b["value"], lang, unit), m=number(b["value_m"], lang, unit), y=b["year"]
                )
            row.chart = chart(series.select("year", "sex", "value", "status"), lang, unit)
            row.table = value_table(series, lang, unit)
        reg = values.filter(
            (pl.col("indicator") == item["indicator"]) & pl.col("region").is_not_null() & (pl.col("sex") == "T")
        )
        if reg.height:
            year = reg["year"].max()
            latest = reg.filter(pl.col("year") == year).unique("region", keep="first").sort("value", descending=True)
            row.region_year = str(year)
            row.regions = [
                (region_names.get(r["region"], r["region"]), number(r["value"], lang, r["unit"]))
                for r in latest.to_dicts()
            ]
        other = others.filter(pl.col("indicator") == item["indicator"])
        row.countries = [(r["country"], number(r["value"], lang, r["unit"]), str(r["year"])) for r in other.to_dicts()]
        out.append(row)
    return out


def _others(con: duckdb.DuckDBPyConnection, country: str) -> pl.DataFrame:
    """Latest national total of each indicator for every other country (its best-ranked series)."""
    return _q(
        con,
        """
        SELECT indicator, country, arg_max(value, year * 100 - rank) AS value, max(year) AS year,
               arg_max(unit, year * 100 - rank) AS unit
        FROM profile
        WHERE country <> ? AND region IS NULL AND sex = 'T' AND period = 'Y'
        GROUP BY indicator, country ORDER BY indicator, country""",
        [country],
    )


def coverage_matrix(cov: pl.DataFrame, values: pl.DataFrame, items: pl.DataFrame, lang: str) -> dict:
    """Rows: indicators in framework order; columns: every year with a national value; cells: ● or ''."""
    nat = values.filter(pl.col("region").is_null() & (pl.col("sex") != "F-M"))
    years = sorted(set(nat["year"].to_list()))
    have = {(r[0], r[1]) for r in nat.select("indicator", "year").unique().iter_rows()}
    names = dict(zip(items["indicator"], items["name_ru" if lang == "ru" else "name"], strict=True))
    rows = []
    for r in cov.sort("position").to_dicts():
        rows.append(
            {
                "id": r["indicator"],
                "name": names[r["indicator"]],
                "tier": r["tier"],
                "missing": r["years"] == 0,
                "cells": ["●" if (r["indicator"], y) in have else "" for y in years],
                "sources": r["sources"] or "",
            }
        )
    return {"years": years, "rows": rows}


def build_page(con: duckdb.DuckDBPyConnection, country: str, lang: str) -> dict:
    """Everything the page shows, from the views."""
    _require(con)
    known = countries(con)
    if country not in known:
        raise DwiError(
            f"no country '{country}' in the warehouse; it has {', '.join(known[:30]) or 'none'}"
            + (" ..." if len(known) > 30 else "")
        )
    items = _q(con, "SELECT * FROM framework ORDER BY position")
    stat = items.filter(pl.col("tier") != "L")
    values = _q(con, "SELECT * FROM profile WHERE country = ?", [country])
    cov = _q(con, "SELECT * FROM coverage WHERE country = ?", [country])
    region_names = {
        r[0]: r[1] or r[0]
        for r in con.execute(f"SELECT code, {'name_ru' if lang == 'ru' else 'name_en'} FROM regions").fetchall()
    }
    others = _others(con, country)
    ratified = set()
    if "conventions" in views(con):
        ratified = {
            f"C{r[0]:03d}" for r in con.execute("SELECT DISTINCT convention_no FROM conventions").fetchall() if r[0]
        }
    elements = []
    for element in stat.unique("element_id", keep="first", maintain_order=True).to_dicts():
        rows = element_rows(con, element, stat, values, others, region_names, lang)
        legal = []
        for law in items.filter((pl.col("tier") == "L") & (pl.col("element_id") == element["element_id"])).to_dicts():
            conv = [c.strip() for c in (law["conventions"] or "").split(",") if c.strip()]
            legal.append(
                {
                    "name": law["name_ru"] if lang == "ru" else law["name"],
                    "conventions": [(c, c in ratified) for c in conv],
                }
            )
        used = sorted(
            {s for s in values.filter(pl.col("indicator").is_in([r.id for r in rows]))["source_id"].to_list()}
        )
        elements.append(
            {
                "id": element["element_id"],
                "name": element["element_ru"] if lang == "ru" else element["element"],
                "rows": rows,
                "legal": legal,
                "sources": used,
                "with_data": sum(1 for r in rows if r.latest),
            }
        )
    names = dict(zip(stat["indicator"], stat["name_ru" if lang == "ru" else "name"], strict=True))
    no_main = [names[r] for r in cov.filter((pl.col("tier") == "M") & (pl.col("years") == 0))["indicator"].to_list()]
    sdg = [r for e in elements for r in e["rows"] if r.sdg and r.sdg.startswith(SDG_PANEL)]
    sources = _q(
        con,
        "SELECT id, title, publisher, reference_date FROM sources WHERE id IN (SELECT DISTINCT source_id FROM profile "
        "WHERE country = ?) ORDER BY id",
        [country],
    )
    country_name = country
    if country == "KAZ":
        country_name = "Казахстан" if lang == "ru" else "Kazakhstan"
    return {
        "country": country,
        "country_name": country_name,
        "elements": elements,
        "coverage": coverage_matrix(cov, values, stat, lang),
        "no_main": no_main,
        "sdg": sorted(sdg, key=lambda r: [int(p) for p in r.sdg.split(".")]),
        "sources": sources.to_dicts(),
        "n_with_data": int((cov["years"] > 0).sum()),
        "n_total": cov.height,
    }


# --- writing -----------------------------------------------------------------------------------------------


def write_html(page: dict, path: Path, lang: str) -> None:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    t = TEXT[lang]
    when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    text = env.get_template("profile.html.j2").render(
        page=page,
        t=t,
        lang=lang,
        unit_label=lambda u: unit_label(u, lang),
        generated=t["generated"].format(when=when, version=__version__),
        safe=jinja2.utils.markupsafe.Markup,
    )
    write_text(path, text)


def write_xlsx(con: duckdb.DuckDBPyConnection, page: dict, path: Path, lang: str) -> None:
    """One sheet per element (its values in the profile view), a coverage sheet and the framework."""
    from dwi.publish.workbook import write_workbook

    country = page["country"]
    values = _q(
        con,
        "SELECT p.*, f.name, f.name_ru FROM profile p JOIN framework f USING (indicator) WHERE p.country = ? "
        "ORDER BY f.position, p.rank, p.source_id, p.region NULLS FIRST, p.sex, p.classif1, p.year, p.period",
        [country],
    )
    element_of = _q(con, "SELECT indicator, element_id FROM framework")
    values = values.join(element_of, on="indicator")
    name_col = "name_ru" if lang == "ru" else "name"
    columns = [
        "indicator",
        name_col,
        "tier",
        "sex",
        "classif1",
        "classif2",
        "region",
        "year",
        "period",
        "value",
        "unit",
        "source_id",
        "source_code",
        "source_row",
        "status",
        "derived",
        "method",
    ]
    tables = {}
    for e in page["elements"]:
        tables[f"{e['id']} {e['name']}"[:31]] = values.filter(pl.col("element_id") == e["id"]).select(columns)
    matrix = page["coverage"]
    cov = _q(con, "SELECT * EXCLUDE (position) FROM coverage WHERE country = ? ORDER BY position", [country])
    cells = pl.DataFrame(
        {str(y): [r["cells"][i] for r in matrix["rows"]] for i, y in enumerate(matrix["years"])},
        schema={str(y): pl.String for y in matrix["years"]},
    )
    tables["coverage"] = pl.concat([cov, cells], how="horizontal") if cells.height == cov.height else cov
    tables["framework"] = _q(con, "SELECT * EXCLUDE (position) FROM framework ORDER BY position")
    meta = metadata(con, dt.datetime.now(dt.UTC))
    documented = {c: "see the profile view (docs/reference/views.md)" for c in columns}
    with replacing(path) as tmp:
        write_workbook(tmp, tables, meta, documented, [])


def write_profile(con: duckdb.DuckDBPyConnection, folder: Path, country: str, lang: str) -> tuple[Path, Path]:
    """Write profile_<COUNTRY>_<lang>.html and profile_<COUNTRY>_<lang>.xlsx into folder; return both paths."""
    if lang not in LANGS:
        raise DwiError(f"--lang must be one of {', '.join(LANGS)}, not '{lang}'")
    country = country.strip().upper()
    page = build_page(con, country, lang)
    folder.mkdir(parents=True, exist_ok=True)
    page_path = folder / f"profile_{country}_{lang}.html"
    book_path = folder / f"profile_{country}_{lang}.xlsx"
    write_html(page, page_path, lang)
    write_xlsx(con, page, book_path, lang)
    return page_path, book_path
