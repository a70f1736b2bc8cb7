"""The HTML report: one self-contained file (Vega-Lite charts drawn by Altair, the Vega JS inlined).

Sections: overview by decent-work element, national time series (missing years are gaps), regional
ranked bars and small multiples, correlation scatters, reconciliation, scorecard radars, data quality.
Each section degrades to a note when the view it needs is not in the warehouse. Every chart is also
written as an SVG file (vl-convert, offline) for slides.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import altair as alt
import duckdb
import jinja2
import polars as pl
import vl_convert

from dwi import __version__
from dwi.derive.indicators import registry
from dwi.errors import DwiError
from dwi.publish.exports import values_frame, views, vintage
from dwi.publish.files import write_error, write_text

TEMPLATE_DIR = Path(__file__).parent / "templates"  # also in dwi.publish
VL_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
SVG_CACHE_DAYS = 30  # cached chart SVGs unused for this long are dropped
NATIONAL = "KZ"
GRADE_MAX = 6  # the review's six-point scale
PERIOD_OFFSET = {"Y": 0.0, "H1": 0.25, "H2": 0.75, "Q1": 0.125, "Q2": 0.375, "Q3": 0.625, "Q4": 0.875}
REGIONAL_BARS = (("CBA_COVERAGE",), ("OSH_ADOPTION_PER_1000", "ENT_OSH_STANDARD"))
NOT_AVAILABLE = "not available in this warehouse"


@dataclass
class Chart:
    id: str
    title: str
    spec: dict
    caption: str = ""


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    charts: list[Chart] = field(default_factory=list)
    tables: list[dict] = field(default_factory=list)  # {"caption", "columns", "rows", "classes"}
    notes: list[str] = field(default_factory=list)
    grid: str = "wide"  # wide | small


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _table(caption: str, frame: pl.DataFrame, row_class: str | None = None) -> dict:
    classes = frame[row_class].to_list() if row_class and row_class in frame.columns else [""] * frame.height
    fmt = [[_cell(v) for v in row] for row in frame.iter_rows()]
    return {
        "caption": caption,
        "columns": frame.columns,
        "rows": fmt,
        "classes": [slug(str(c or "")) for c in classes],
    }


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return f"{v:,.0f}"
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    return str(v)


SEX_LABEL = {"M": "men", "F": "women", "O": "other sex"}


def _category(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `category`: the row's sex (men, women; nothing for the total) and breakdown (classif1, classif2,
    e.g. AGE_YTHADULT_Y15-24), 'total' when it has none. Values of different categories are never merged: each
    is a line (a row) of its own."""
    parts = [pl.col("sex").replace_strict(SEX_LABEL, default=None)] if "sex" in frame.columns else []
    parts += [pl.col(c) for c in ("classif1", "classif2") if c in frame.columns]
    label = pl.concat_str(parts, separator=" / ", ignore_nulls=True) if parts else pl.lit("")
    return frame.with_columns(pl.when(label != "").then(label).otherwise(pl.lit("total")).alias("category"))


def _t(frame: pl.DataFrame) -> pl.DataFrame:
    """Add `t`, a position on a time axis: the year plus the middle-ish of a half-year, quarter or month."""
    month = pl.col("period").str.slice(1).cast(pl.Int32, strict=False)
    offset = (
        pl.when(pl.col("period").str.starts_with("M"))
        .then((month - 0.5) / 12)
        .otherwise(pl.col("period").replace_strict(PERIOD_OFFSET, default=0.0, return_dtype=pl.Float64))
    )
    return frame.with_columns((pl.col("year") + offset).alias("t"))


# --- overview --------------------------------------------------------------------------------------


def overview(values: pl.DataFrame, national: str = NATIONAL) -> Section:
    sec = Section(
        "overview",
        "Decent-work elements: latest national values",
        "For each indicator with a national value: the latest value, the one before it at the same "
        "frequency from the same source, and the change (in the unit; percentage points for shares) with its "
        "span in years (a span above 1 is a change across a gap, not year-on-year). Values implied by a text "
        "or with a corrected year enter no change. Values are as reported unless marked derived.",
    )
    # registry indicators only: year-on-year changes, ranks and dispersion (unregistered transform codes,
    # e.g. EMP_TOTAL_YOY_PCT) are in the exports and indicator_values, not drawn as charts of their own
    nat = _category(
        _t(
            values.filter(
                (pl.col("region_code") == national)
                & (pl.col("sex").fill_null("T") == "T")
                & pl.col("indicator_name").is_not_null()
            )
        )
    )
    if nat.is_empty():
        sec.notes.append("No national values in this warehouse.")
        return sec
    nat = nat.with_columns(pl.col("period").str.slice(0, 1).alias("freq"))
    # prefer annual values; otherwise the frequency the indicator has
    ids = ["indicator_code", "category"]  # one row per indicator and breakdown (ages, ...), never merged
    pref = nat.group_by(ids).agg((pl.col("freq") == "Y").any().alias("has_y"))
    nat = nat.join(pref, on=ids).filter(~pl.col("has_y") | (pl.col("freq") == "Y"))
    # the change compares the latest value with the previous one of the SAME source and origin (never a
    # derived value with a reported one), never with a value the source did not print as such (obs_status
    # implied, corrected); its span in years is shown (a change across a gap is not year-on-year)
    nat = nat.with_columns(
        pl.concat_str(
            pl.when(pl.col("derived")).then(pl.lit("derived from ")).otherwise(pl.lit("")),
            pl.col("source_id").fill_null("dwi"),
        ).alias("variant"),
        pl.col("obs_status").fill_null("").is_in(["implied", "corrected"]).alias("unprinted"),
    )
    latest = nat.sort("t").group_by(ids, maintain_order=True).last()
    prev = (
        nat.filter(~pl.col("unprinted"))
        .join(latest.select(*ids, pl.col("variant").alias("lv"), pl.col("t").alias("lt")), on=ids)
        .filter(pl.col("variant") == pl.col("lv"), pl.col("t") < pl.col("lt"))
        .sort("t")
        .group_by(ids, maintain_order=True)
        .last()
        .select(
            *ids,
            pl.col("time_period").alias("previous_period"),
            pl.col("value").alias("previous"),
            pl.col("year").alias("prev_year"),
        )
    )
    last2 = latest.join(prev, on=ids, how="left").with_columns(
        pl.col("time_period").alias("latest_period"),
        pl.col("value").alias("latest"),
        pl.when(pl.col("unprinted"))
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise(pl.col("previous"))
        .alias("previous"),
        pl.when(pl.col("unprinted"))
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(pl.col("previous_period"))
        .alias("previous_period"),
        pl.when(~pl.col("unprinted")).then(pl.col("year") - pl.col("prev_year")).alias("span"),
    )
    last2 = last2.with_columns(
        (pl.col("latest") - pl.col("previous")).alias("change"),
        pl.when(pl.col("unit") != "percent")
        .then((pl.col("latest") / pl.col("previous") - 1) * 100)
        .alias("change_pct"),
    )
    last2 = last2.sort("element", "indicator_code", "category")
    for element, group in last2.group_by("element", maintain_order=True):
        frame = group.select(
            pl.col("indicator_code").alias("code"),
            pl.col("indicator_name").alias("indicator"),
            pl.col("category").alias("breakdown"),
            "unit",
            pl.col("latest_period").alias("latest period"),
            "latest",
            pl.col("previous_period").alias("previous period"),
            "previous",
            pl.col("change").round(3),
            pl.col("change_pct").round(1).alias("change, %"),
            pl.col("span").alias("span, years"),
            pl.concat_str(
                pl.when(pl.col("derived")).then(pl.lit("derived")).otherwise(pl.lit("reported")),
                pl.lit(" ("),
                pl.col("source_id").fill_null("dwi"),
                pl.lit(")"),
                pl.when(pl.col("unprinted"))
                .then(pl.lit("; latest value ") + pl.col("obs_status") + pl.lit(": no change shown"))
                .otherwise(pl.lit("")),
            ).alias("basis"),
        )
        sec.tables.append(_table(str(element[0] or "(no element)"), frame))
    return sec


# --- national time series -------------------------------------------------------------------------


SLOT = "\x00slot:"  # a placeholder in a chart template: "\x00slot:<name>", or data [{"slot": "<name>"}]


def _filled(template: dict, slots: dict) -> dict:
    """A copy of a chart template with its placeholders replaced: data values [{"slot": name}] by the list
    slots[name], strings SLOT + name by slots[name]. Altair builds each template once (building a chart
    takes a tenth of a second or more, validation aside), the data goes in per chart."""

    def fill(node):
        if isinstance(node, dict):
            values = node.get("values")
            if (
                isinstance(values, list)
                and len(values) == 1
                and isinstance(values[0], dict)
                and set(values[0]) == {"slot"}
            ):
                return {**{k: fill(v) for k, v in node.items() if k != "values"}, "values": slots[values[0]["slot"]]}
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if isinstance(node, str) and node.startswith(SLOT):
            return slots[node[len(SLOT) :]]
        return node

    return fill(template)


@cache
def _time_series_template(annual: bool) -> dict:
    """A national indicator over time: a line through the annual values (when there are any) and points,
    triangles for sub-annual values. Slots: rows, unit, title."""
    data = alt.Data(values=[{"slot": "rows"}])
    tooltip = [
        alt.Tooltip("time_period:N", title="period"),
        alt.Tooltip("value:Q", format=",.4~f"),
        alt.Tooltip("obs_status:N", title="flag"),
    ]
    x = alt.X(
        "t:Q",
        title=None,
        axis=alt.Axis(format="d", tickMinStep=1),
        scale=alt.Scale(zero=False, nice=False, padding=12),
    )
    y = alt.Y("value:Q", title=SLOT + "unit", scale=alt.Scale(zero=False))
    color = alt.Color("variant:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=400))
    line = (
        alt.Chart(data)
        .transform_filter("datum.kind == 'annual'")
        .mark_line(invalid="break-paths-filter-domains", strokeWidth=2)
        .encode(x=x, y=y, color=color)
    )
    points = (
        alt.Chart(data)
        .transform_filter("datum.value != null")
        .mark_point(filled=True, size=50)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=[*tooltip, alt.Tooltip("variant:N", title="source")],
            shape=alt.Shape(
                "kind:N",
                scale=alt.Scale(domain=["annual", "sub-annual"], range=["circle", "triangle-up"]),
                legend=None,
            ),
        )
    )
    breaks = (  # a value flagged B (break in series): a red diamond around the point
        alt.Chart(data)
        .transform_filter("datum.value != null && indexof(datum.obs_status || '', 'B') >= 0")
        .mark_point(shape="diamond", size=160, filled=False, strokeWidth=2, color="#c0392b")
        .encode(x=x, y=y)
    )
    chart = (line + points + breaks if annual else points + breaks).properties(
        width=460, height=170, title=alt.Title(SLOT + "title")
    )
    return chart.to_dict(validate=False)


def time_series(values: pl.DataFrame, national: str = NATIONAL) -> Section:
    sec = Section(
        "national",
        "National indicators over time",
        "One chart per national indicator of the registry (changes and dispersion are in the exports), "
        "one line per source and category (men, women and the total; age groups and other breakdowns). "
        "Years with no value are gaps in the line (never zeros, "
        "never interpolated); half-year, quarterly and monthly values are drawn as triangles; a red diamond "
        "marks a value flagged B (break in series). An indicator with a single value is a number in the table "
        "below, not a chart.",
    )
    # registry indicators only: year-on-year changes, ranks and dispersion (unregistered transform codes,
    # e.g. EMP_TOTAL_YOY_PCT) are in the exports and indicator_values, not drawn as charts of their own
    nat = _category(  # every sex: men and women are lines beside the total
        _t(values.filter((pl.col("region_code") == national) & pl.col("indicator_name").is_not_null()))
    )
    singles = []
    for (code,), group in nat.sort("indicator_code").group_by("indicator_code", maintain_order=True):
        name, unit = group["indicator_name"][0] or code, group["unit"][0]
        if group.height == 1:  # a single value is a number, not a chart
            singles.append(group)
            continue
        annual = group.filter(pl.col("period") == "Y")
        years = pl.DataFrame(
            {"year": list(range(int(annual["year"].min() or 0), int(annual["year"].max() or -1) + 1))},
            schema={"year": pl.Int32},
        )
        # one line per source and origin (a derived series and a reported one are variants, never one line),
        # and per breakdown (ages, ...: each age group is a line of its own)
        several = group["category"].n_unique() > 1
        variant = pl.concat_str(
            pl.when(pl.col("derived")).then(pl.lit("derived from ")).otherwise(pl.lit("")),
            pl.col("source_id").fill_null("dwi"),
            pl.when(pl.lit(several)).then(pl.lit(", ") + pl.col("category")).otherwise(pl.lit("")),
        )
        annual = annual.with_columns(variant.alias("variant"))
        variants = annual["variant"].unique(maintain_order=True).to_list()
        grid = (
            pl.concat(
                [
                    years.join(
                        annual.filter(pl.col("variant") == v).select(
                            pl.col("year").cast(pl.Int32), "value", "time_period", "obs_status", "variant"
                        ),
                        on="year",
                        how="left",
                    ).with_columns(pl.lit(v).alias("variant"), pl.col("year").cast(pl.Float64).alias("t"))
                    for v in variants
                ]
            )
            if variants
            else pl.DataFrame()
        )
        have = set(annual["year"].to_list())
        missing = [y for y in years["year"].to_list() if y not in have] if annual.height else []
        rows = [{**r, "kind": "annual"} for r in grid.to_dicts()] if annual.height else []
        rows += [
            {
                "t": r["t"],
                "year": r["year"],
                "value": r["value"],
                "time_period": r["time_period"],
                "obs_status": r["obs_status"],
                "variant": ("derived from " if r["derived"] else "")
                + (r["source_id"] or "dwi")
                + (f", {r['category']}" if several else ""),
                "kind": "sub-annual",
            }
            for r in group.filter(pl.col("period") != "Y").to_dicts()
        ]
        spec = _filled(
            _time_series_template(bool(annual.height)), {"rows": rows, "unit": unit, "title": f"{code}: {name}"}
        )
        caption = f"{group.height} value(s), {unit}."
        if missing:
            caption += f" No value for {_years(missing)} (gap)."
        flagged = group.filter(pl.col("obs_status").is_not_null())
        if flagged.height:
            caption += (
                " Flagged: " + ", ".join(f"{r['time_period']} {r['obs_status']}" for r in flagged.to_dicts()) + "."
            )
        if group["derived"].any():
            caption += " Derived by dwi: " + str(group.filter(pl.col("derived"))["method"][0] or "") + "."
        preferred = any(v.get("preferred") and v["code"] == code for v in registry().get("derived_variants", []))
        if len(variants) > 1:
            caption += (
                f" {len(variants)} series (sources, vintages or breakdowns), one line each, never joined: "
                + (f"{'; '.join(variants)}.")
                + (
                    " Preferred: the derived series where it exists (indicators.yaml, derived_variants)."
                    if preferred
                    else ""
                )
            )
        unprinted = group.filter(pl.col("obs_status").is_in(["implied", "corrected"]))
        if unprinted.height:
            caption += (
                " Not printed as such (left out of changes and correlations): "
                + ", ".join(f"{r['time_period']} {r['obs_status']}" for r in unprinted.to_dicts())
                + "."
            )
        sec.charts.append(Chart(f"ts-{slug(code)}", f"{code}", spec, caption))
    if singles:
        one = pl.concat(singles, how="diagonal_relaxed").select(
            pl.col("indicator_code").alias("code"),
            pl.col("indicator_name").alias("indicator"),
            pl.col("time_period").alias("period"),
            "value",
            "unit",
            pl.col("obs_status").alias("flag"),
            pl.when(pl.col("derived")).then(pl.lit("derived")).otherwise(pl.lit("reported")).alias("basis"),
        )
        sec.tables.append(_table("Indicators with a single national value (shown as numbers, not charts)", one))
    if not sec.charts and not singles:
        sec.notes.append("No national values in this warehouse.")
    return sec


def _years(years: list[int]) -> str:
    """[2006, 2007, 2008, 2010] -> '2006-2008, 2010'."""
    runs, start, prev = [], None, None
    for y in years + [None]:
        if start is None:
            start = prev = y
        elif y == prev + 1:
            prev = y
        else:
            runs.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = y
    return ", ".join(runs)


# --- regional -------------------------------------------------------------------------------------


def _is_rate(unit: str | None) -> bool:
    """A share or a rate (comparable between a region and the country), not a count."""
    return bool(unit) and (unit == "percent" or unit.startswith("per "))


def _latest_regional(values: pl.DataFrame) -> pl.DataFrame:
    """Each indicator's latest period with regional values (sex total), regions only (not the country)."""
    reg = _t(values.filter((pl.col("region_code") != NATIONAL) & (pl.col("sex").fill_null("T") == "T")))
    latest = reg.group_by("indicator_code").agg(pl.col("t").max().alias("t_max"))
    return reg.join(latest, on="indicator_code").filter(pl.col("t") == pl.col("t_max")).drop("t_max")


def regional(values: pl.DataFrame) -> Section:
    sec = Section(
        "regional",
        "Regions",
        "Ranked bars for collective-agreement coverage and OSH adoption (latest period; the dashed "
        "line is the national value where the source reports one), then every regional indicator "
        "as small multiples.",
    )
    latest = _latest_regional(values)
    nat = values.filter(pl.col("region_code") == NATIONAL)
    for choices in REGIONAL_BARS:
        code = next((c for c in choices if latest.filter(pl.col("indicator_code") == c).height), None)
        if code is None:
            sec.notes.append(f"{' / '.join(choices)}: {NOT_AVAILABLE}.")
            continue
        data = latest.filter(pl.col("indicator_code") == code)
        period, unit, name = data["time_period"][0], data["unit"][0], data["indicator_name"][0] or code
        rows = data.select("region_name", "region_code", "value", "time_period").to_dicts()
        bars = (
            alt.Chart(alt.Data(values=rows))
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title=unit),
                y=alt.Y("region_name:N", title=None, sort="-x"),
                tooltip=[
                    "region_name:N",
                    "region_code:N",
                    alt.Tooltip("value:Q", format=",.4~f"),
                    "time_period:N",
                ],
            )
        )
        chart = bars
        national = nat.filter((pl.col("indicator_code") == code) & (pl.col("time_period") == period))
        caption = f"{data.height} regions, {period}, {unit}."
        if national.height and not _is_rate(unit):
            caption += f" Kazakhstan: {_cell(float(national['value'][0]))} (a total, not drawn)."
        elif national.height:
            nv = float(national["value"][0])
            rule = (
                alt.Chart(alt.Data(values=[{"value": nv}]))
                .mark_rule(strokeDash=[4, 3], color="#333")
                .encode(x="value:Q")
            )
            chart = bars + rule
            caption += f" Kazakhstan: {_cell(nv)}."
        if code != choices[0]:
            caption += f" ({choices[0]} is {NOT_AVAILABLE}; showing {code}.)"
        chart = chart.properties(width=360, height=max(160, 18 * data.height), title=f"{code}: {name}")
        sec.charts.append(Chart(f"rank-{slug(code)}", code, chart.to_dict(validate=False), caption))
    counts = latest.group_by("indicator_code").len()
    many = counts.filter(pl.col("len") >= 5)["indicator_code"].sort().to_list()
    if many:
        data = latest.filter(pl.col("indicator_code").is_in(many)).with_columns(
            (pl.col("indicator_code") + " (" + pl.col("unit") + ", " + pl.col("time_period") + ")").alias("panel")
        )
        rows = data.select("panel", "region_name", "value", "time_period").to_dicts()
        chart = (
            alt.Chart(alt.Data(values=rows))
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title=None),
                y=alt.Y("region_name:N", title=None),
                tooltip=["panel:N", "region_name:N", alt.Tooltip("value:Q", format=",.4~f")],
            )
            .properties(width=170, height=260)
            .facet(facet=alt.Facet("panel:N", title=None), columns=3)
            .resolve_scale(x="independent")
        )
        sec.charts.append(
            Chart(
                "small-multiples",
                "Regional indicators",
                chart.to_dict(validate=False),
                f"{len(many)} indicators with values for 5 or more regions; each panel has its own scale.",
            )
        )
    return sec


# --- correlations ---------------------------------------------------------------------------------


def _pairs(values: pl.DataFrame, x: str, y: str, scope: str) -> pl.DataFrame:
    """The points behind a correlation: regions (latest value of each) or, for a national scope, years."""

    def side(code: str, name: str) -> pl.DataFrame:
        v = _t(values.filter((pl.col("indicator_code") == code) & (pl.col("sex").fill_null("T") == "T")))
        if "nation" in scope.lower():
            v = v.filter((pl.col("region_code") == NATIONAL) & (pl.col("period") == "Y"))
            return v.select(pl.col("time_period").alias("label"), pl.col("value").alias(name))
        # Kazakhstan's regions (ISO 3166-2:KZ codes), not the areas of other countries (ISO3 codes)
        v = v.filter(pl.col("region_code").str.starts_with("KZ-")).sort("t").group_by("region_code").last()
        return v.select(pl.col("region_name").alias("label"), pl.col("value").alias(name))

    return side(x, "x").join(side(y, "y"), on="label").drop_nulls().sort("label")  # same order every run


def correlations(con: duckdb.DuckDBPyConnection, values: pl.DataFrame, present: set[str]) -> Section:
    sec = Section(
        "correlations",
        "Correlations",
        "One scatter per correlation computed by dwi, with a least-squares line; n, Pearson's r and its "
        "95% interval are the `correlations` view's figures.",
    )
    if "correlations" not in present:
        sec.notes.append(f"Correlations: {NOT_AVAILABLE} (the `correlations` view is missing).")
        return sec
    rows = con.sql("SELECT * FROM correlations").pl()
    for i, r in enumerate(rows.to_dicts()):
        x, y, scope = str(r.get("x_indicator")), str(r.get("y_indicator")), str(r.get("scope") or "")
        pts = _pairs(values, x, y, scope)
        stats = (
            f"n = {r.get('n')}, r = {_num(r.get('pearson_r'))} "
            f"(95% CI {_num(r.get('pearson_ci_low'))} to {_num(r.get('pearson_ci_high'))}), "
            f"p = {_num(r.get('pearson_p'))}; Spearman ρ = {_num(r.get('spearman_rho'))}"
        )
        title = alt.Title(f"{y} vs {x} ({scope})", subtitle=[stats])
        if pts.height < 2:
            sec.notes.append(f"{y} vs {x} ({scope}): {stats}; the points are not in the values table.")
            continue
        data = alt.Data(values=pts.to_dicts())
        base = alt.Chart(data)
        dots = base.mark_circle(size=60).encode(
            x=alt.X("x:Q", title=x, scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", title=y, scale=alt.Scale(zero=False)),
            tooltip=["label:N", alt.Tooltip("x:Q", format=",.4~f"), alt.Tooltip("y:Q", format=",.4~f")],
        )
        fit = base.transform_regression("x", "y").mark_line(color="#c0392b").encode(x="x:Q", y="y:Q")
        chart = (dots + fit).properties(width=420, height=260, title=title)
        caption = stats + "."
        if r.get("flags"):
            caption += f" Flags: {r['flags']}."
        if r.get("n") is not None and pts.height != r.get("n"):
            caption += f" ({pts.height} points drawn from the values table.)"
        sec.charts.append(Chart(f"corr-{i}-{slug(x)}-{slug(y)}", f"{y} vs {x}", chart.to_dict(validate=False), caption))
    if rows.is_empty():
        sec.notes.append("The correlations view is empty.")
    return sec


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


# --- reconciliation -------------------------------------------------------------------------------


def reconciliation(con: duckdb.DuckDBPyConnection, present: set[str]) -> Section:
    sec = Section(
        "reconciliation",
        "Reconciliation: reported figures recomputed",
        "Each figure the sources report that dwi can recompute or test against other figures: the relation "
        "tested, its tolerance, the verdict and why (consistent, inconsistent, revised: two vintages differ, "
        "inconclusive: the data neither confirm nor contradict, not checkable: an input is missing or "
        "definitions differ).",
    )
    if "reconciliation" not in present:
        sec.notes.append(f"Reconciliation: {NOT_AVAILABLE} (the `reconciliation` view is missing).")
        return sec
    frame = con.sql("SELECT * FROM reconciliation").pl()
    if frame.is_empty():
        sec.notes.append("No reconciliation checks in this warehouse.")
        return sec
    counts = frame.group_by("verdict").len().sort("verdict")
    sec.intro += " Verdicts: " + ", ".join(f"{v}: {n}" for v, n in counts.iter_rows()) + "."
    order = {"inconsistent": 0, "revised": 1, "inconclusive": 2, "not checkable": 3, "consistent": 4}
    frame = frame.sort(pl.col("verdict").replace_strict(order, default=5), "check", nulls_last=True)
    sec.tables.append(_table("reconciliation (inconsistent first)", frame, row_class="verdict"))
    return sec


# --- scorecard radars -----------------------------------------------------------------------------


def radar_frame(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, str]:
    """Radar data (programme, chart_code, chart_level, chart_title, axis_code, axis_label, grade, basis) and
    where it came from: dwi.derive.scorecard.radar_series when that module exists, else the review's reported
    grades in _dwcp_assessments (one chart per priority over its outcomes, per outcome over its
    activities)."""
    try:
        from dwi.derive.scorecard import radar_series  # type: ignore[import-not-found]
    except ImportError:
        radar_series = None
    if radar_series is not None:
        return radar_series(con), "dwi.derive.scorecard (computed and reported grades)"
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "_dwcp_assessments" not in tables or "stg_current_loads" not in views(con):
        return pl.DataFrame(), ""
    frame = con.sql("""
        SELECT p.programme, p.code AS chart_code, p.level AS chart_level, p.title AS chart_title,
               a.code AS axis_code, a.title AS axis_label, a.grade, a.grade_basis AS basis
        FROM _dwcp_assessments p
        JOIN stg_current_loads cp ON cp.source_id = p.source_id AND cp.load_id = p.load_id
        JOIN _dwcp_assessments a ON a.parent_code = p.code AND a.load_id = p.load_id
        WHERE p.level IN ('priority', 'outcome')
        ORDER BY p.level DESC, p.code, a.code""").pl()
    return frame, "the review's reported grades (_dwcp_assessments)"


def _radar_spec(group: pl.DataFrame, title: str) -> dict:
    """A radar drawn with Vega-Lite marks on computed x/y: grid rings 1-6, spokes, one outline per series.

    A chart has one series unless an axis appears several times (e.g. computed and reported grades from
    dwi.derive.scorecard); then each `basis` is a series with its own colour."""
    axes = group.unique("axis_code", keep="first", maintain_order=True)
    several = axes.height < group.height
    k = axes.height
    angle = {code: 2 * math.pi * i / k for i, code in enumerate(axes["axis_code"])}
    poly = []
    for series, rows in group.group_by(pl.col("basis") if several else pl.lit("grade"), maintain_order=True):
        grades = {r["axis_code"]: r for r in rows.to_dicts()}
        for i, code in enumerate([*angle, next(iter(angle))]):  # closed: back to the first axis
            r, a = grades.get(code, {}), angle[code]
            g = r.get("grade")
            poly.append(
                {
                    "series": str(series[0]),
                    "o": i,
                    "grade": g,
                    "axis": code,
                    "label": r.get("axis_label"),
                    "basis": r.get("basis"),
                    "closing": i == k,
                    "x": None if g is None else g * math.sin(a),
                    "y": None if g is None else g * math.cos(a),
                }
            )
    rings = [
        {"ring": g, "o": i, "x": g * math.sin(a), "y": g * math.cos(a)}
        for g in range(1, GRADE_MAX + 1)
        for i, a in enumerate([*angle.values(), 0.0])
    ]
    spokes = [{"x": 0, "y": 0, "x2": GRADE_MAX * math.sin(a), "y2": GRADE_MAX * math.cos(a)} for a in angle.values()]
    graded = {p["axis"] for p in poly if p["grade"] is not None}
    labels = [
        {
            "x": (GRADE_MAX + 1.1) * math.sin(a),
            "y": (GRADE_MAX + 1.1) * math.cos(a),
            "text": code + ("" if code in graded else " (no grade)"),
        }
        for code, a in angle.items()
    ]
    scale = [{"x": 0.35, "y": g, "text": str(g)} for g in (2, 4, GRADE_MAX)]
    return _filled(
        _radar_template(several),
        {"rings": rings, "spokes": spokes, "poly": poly, "labels": labels, "scale": scale, "title": title[:60]},
    )


@cache
def _radar_template(several: bool) -> dict:
    """The radar's Vega-Lite spec with a placeholder per layer's data (altair builds it once: building it
    per chart took half a second each)."""
    dom = [-(GRADE_MAX + 2.2), GRADE_MAX + 2.2]
    x = alt.X("x:Q", scale=alt.Scale(domain=dom), axis=None)
    y = alt.Y("y:Q", scale=alt.Scale(domain=dom), axis=None)
    color = alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")) if several else alt.value("#1f5fa8")

    def slot(name: str) -> alt.Data:
        return alt.Data(values=[{"slot": name}])

    ring = (
        alt.Chart(slot("rings")).mark_line(color="#ccc", strokeWidth=0.7).encode(x=x, y=y, detail="ring:N", order="o:Q")
    )
    spoke = alt.Chart(slot("spokes")).mark_rule(color="#ccc", strokeWidth=0.7).encode(x=x, y=y, x2="x2:Q", y2="y2:Q")
    outline = (
        alt.Chart(slot("poly"))
        .mark_line(strokeWidth=2, invalid="break-paths-filter-domains")
        .encode(x=x, y=y, order="o:Q", detail="series:N", color=color)
    )
    dots = (
        alt.Chart(slot("poly"))
        .transform_filter("datum.grade != null && !datum.closing")
        .mark_circle(size=45)
        .encode(x=x, y=y, color=color, tooltip=["series:N", "axis:N", "label:N", "grade:Q", "basis:N"])
    )
    text = alt.Chart(slot("labels")).mark_text(fontSize=10).encode(x=x, y=y, text="text:N")
    ticks = alt.Chart(slot("scale")).mark_text(fontSize=8, color="#999", align="left").encode(x=x, y=y, text="text:N")
    return (
        (ring + spoke + outline + dots + text + ticks)
        .configure_view(stroke=None)
        .properties(width=230, height=230, title=alt.Title(SLOT + "title", fontSize=12))
        .to_dict(validate=False)
    )


def radars(con: duckdb.DuckDBPyConnection) -> Section:
    sec = Section("scorecard", "Scorecard radars", grid="small")
    frame, origin = radar_frame(con)
    if frame.is_empty():
        sec.notes.append(f"Scorecard: {NOT_AVAILABLE} (no programme assessments loaded).")
        return sec
    sec.intro = (
        f"Grades on the review's six-point scale, from {origin}: one chart per priority (axes: its "
        "outcomes) and per outcome (axes: its activities). A missing grade breaks the outline; it is "
        "never drawn as zero."
    )
    keys = ["programme", "chart_code", "chart_level", "chart_title"]
    for (prog, code, level, title), group in frame.group_by(keys, maintain_order=True):
        spec = _radar_spec(group, f"{level} {code}: {title}")
        n_axes = group["axis_code"].n_unique()
        series = group.group_by("basis" if group.height > n_axes else pl.lit("grade"), maintain_order=True)
        counts = [
            f"{int(g['grade'].is_not_null().sum())} of {n_axes} axes graded"
            + (f" ({k[0]})" if group.height > n_axes else "")
            for k, g in series
        ]
        caption = f"{level.capitalize()} {code}: {title}. " + "; ".join(counts) + "."
        sec.charts.append(Chart(f"radar-{slug(str(prog))}-{slug(code)}", f"{level} {code}", spec, caption))
    if "dwcp_scores" in set(views(con)):
        scores = con.sql("SELECT * FROM dwcp_scores").pl()
        sec.tables.append(_table("dwcp_scores: computed against reported grades", scores, row_class="verdict"))
    else:
        sec.notes.append(f"Computed grades (dwcp_scores): {NOT_AVAILABLE}.")
    return sec


# --- data quality ---------------------------------------------------------------------------------


def quality(con: duckdb.DuckDBPyConnection, limit: int = 300) -> Section:
    sec = Section("quality", "Data quality: what was loaded, quarantined and why")
    loads = con.sql("""
        SELECT s.id AS source, l.status, l.rows_in, l.rows_loaded, l.rows_quarantined,
               (SELECT count(*) FROM quality_issues q WHERE q.load_id = l.load_id AND q.severity = 'warning')
                   AS warnings, l.load_id, l.message
        FROM sources s LEFT JOIN loads l ON l.load_id = s.load_id WHERE s.status = 'current' ORDER BY s.id""").pl()
    quarantined = int(loads["rows_quarantined"].fill_null(0).sum())
    rejected = loads.filter(pl.col("status") == "rejected").height
    sec.intro = (
        f"{int(loads['rows_loaded'].fill_null(0).sum())} rows loaded, {quarantined} quarantined, "
        f"{rejected} file(s) rejected in the current vintage. A quarantined row is kept out of the "
        "warehouse with the reason below; a warning is a finding about a row that was loaded."
    )
    sec.tables.append(_table("current load of each source", loads, row_class="status"))
    issues = con.sql("""
        SELECT q.severity, q.source_id, q."row", q."column", q."check", q.value, q.message
        FROM quality_issues q JOIN sources s ON s.load_id = q.load_id AND s.status = 'current'
        ORDER BY CASE q.severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, q.source_id, q."row"
    """).pl()
    if issues.is_empty():
        sec.notes.append("No quality issues in the current vintage: no row was quarantined and no warning was raised.")
    else:
        summary = issues.group_by("severity", "source_id", "check").len().sort("severity", "source_id", "check")
        sec.tables.append(_table("issues by source and rule", summary, row_class="severity"))
        shown = issues.head(limit)
        cap = "every issue" if issues.height <= limit else f"the first {limit} of {issues.height} issues"
        sec.tables.append(_table(cap + " (see the quality_issues view)", shown, row_class="severity"))
    return sec


# --- assembling -----------------------------------------------------------------------------------


def script_json(obj) -> str:
    """JSON safe inside <script>: no '</script>', '<!--' or '-->' can appear (all of < > & are escaped)."""
    text = json.dumps(obj, ensure_ascii=False, default=str, allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def sections(con: duckdb.DuckDBPyConnection, country: str = "KAZ") -> list[Section]:
    """The report's sections: Kazakhstan's in full; for another country or aggregate loaded (ISO3 or aggregate
    code) its national values over time and the data quality (the regional, correlation, reconciliation and
    scorecard sections are about Kazakhstan's data)."""
    present = views(con)
    if country.upper() != "KAZ":
        values = values_frame(con, countries=[country])  # an unknown code: a clear error naming it
        return [overview(values, country.upper()), time_series(values, country.upper()), quality(con)]
    values = values_frame(con)
    return [
        overview(values),
        time_series(values),
        regional(values),
        correlations(con, values, present),
        reconciliation(con, present),
        radars(con),
        quality(con),
    ]


def write_report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    charts_dir: Path | None = None,
    step: Callable[[str], None] | None = None,
    country: str = "KAZ",
) -> Path:
    """Write the self-contained HTML report (and one SVG per chart into charts_dir) for Kazakhstan or another
    country or aggregate loaded; return its path."""
    step = step or (lambda _msg: None)
    step("collecting sections")
    secs = sections(con, country)
    charts = [c for s in secs for c in s.charts]
    for c in charts:
        c.spec.setdefault("config", {}).setdefault("font", "Helvetica, Arial, sans-serif")
    step("bundling the Vega JavaScript")
    bundle = vega_bundle().replace("</script", "<\\/script")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    html = env.get_template("report.html.j2").render(
        sections=secs,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        version=__version__,
        vintage=vintage(con).to_dicts(),
        specs=script_json({c.id: c.spec for c in charts}),
        vega_bundle=jinja2.utils.markupsafe.Markup(bundle),
        n_charts=len(charts),
    )
    write_text(path, html)
    if charts_dir is not None:
        try:
            charts_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise write_error(charts_dir, exc) or exc from None
        names = {f"{c.id}.svg" for c in charts}
        for stale in _written_charts(charts_dir) - names:  # only SVGs dwi wrote: a user's own files stay
            (charts_dir / stale).unlink(missing_ok=True)

        def render(c: Chart) -> str:
            write_text(charts_dir / f"{c.id}.svg", svg(c.spec))
            return c.id

        with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # vl-convert renders charts in parallel
            for i, done in enumerate(pool.map(render, charts), start=1):
                step(f"chart {i}/{len(charts)}: {done}.svg")
        write_text(charts_dir / CHART_INDEX, "".join(f"{n}\n" for n in sorted(names)))
        _prune(_cache() / "svg")
    return path


CHART_INDEX = ".dwi-charts"  # the chart files the last report wrote into its charts folder, one name per line


def _written_charts(folder: Path) -> set[str]:
    """The SVG files a previous report wrote into `folder` (its index), plain file names only."""
    try:
        lines = (folder / CHART_INDEX).read_text(encoding="utf-8").splitlines()
    except OSError:
        return set()
    return {n for n in lines if n.endswith(".svg") and Path(n).name == n and not n.startswith(".")}


def _cache() -> Path:
    """dwi's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dwi"


def _cached(path: Path, make: Callable[[], str]) -> str:
    """The text in `path` if it is there (its time is refreshed), else make() written there; a cache that
    cannot be written is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        text = None
    if text is not None:
        with contextlib.suppress(OSError):
            os.utime(path)  # kept by _prune while reports use it
        return text
    text = make()
    try:
        write_text(path, text)
    except DwiError:
        pass  # no writable cache: make it next time too
    return text


def svg(spec: dict) -> str:
    """The chart as SVG. Rendering takes most of a report's time, so each SVG is kept in the user's cache under
    the hash of its spec (data included) and the renderer's version: a run re-renders only the charts whose
    data or layout changed."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.sha256(f"{vl_convert.__version__}|{VL_VERSION}|{text}".encode()).hexdigest()
    return _cached(_cache() / "svg" / f"{key}.svg", lambda: vl_convert.vegalite_to_svg(spec, vl_version=VL_VERSION))


def _prune(folder: Path, days: int = SVG_CACHE_DAYS) -> None:
    """Drop cached charts no report has used for `days` days, so the cache does not grow with every run."""
    cutoff = dt.datetime.now().timestamp() - days * 86400
    for old in folder.glob("*.svg"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()


def vega_bundle() -> str:
    """vl-convert's Vega/Vega-Lite/vega-embed JavaScript bundle (inlined in the report, which works offline).
    Building it takes seconds, so it is kept in the user's cache, one file per vl-convert version."""
    return _cached(
        _cache() / f"vega-bundle-{vl_convert.__version__}-vl{VL_VERSION}.js",
        lambda: vl_convert.javascript_bundle(vl_version=VL_VERSION),
    )
