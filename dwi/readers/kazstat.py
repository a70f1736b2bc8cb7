"""Workbooks of Kazakhstan's statistics bureau (stat.gov.kz), in Russian, Kazakh or English, read without a
layout.

Their common shape: a title block (the table's title, a unit line such as "в процентах" / "in percent"); a
period header of years across, often a year row over a row of quarters ("I квартал", "I quarter", "год");
a label column with no header; below it, rows of regions ("Туркестанская 3)") or indicator blocks: a heading
row without values (often with the decent-work tier mark "M -", "A -", "C -") followed by rows Всего / Мужчины
/ Женщины (total / men / women); footnotes ("1) ...", "* ...") under the table. Their conventions: spaces (also
non-breaking) as thousands separators ("681 310"), decimal commas, footnote marks on values and labels
("78,8*", "year2)"), and "…", "...", "-", "x" for "no value" (the bureau's legend: no data, phenomenon absent,
confidential).

What each row is comes from its label: a sex word (total / men / women in the three languages), a region
(dwi/reference/region_aliases.csv), or else an indicator of its own. Every indicator is registered on the fly
with a code made from the table's title and its row labels (KZS_ + a hash, stable across editions that keep
the wording), the bureau's name and unit as printed, the tier mark and the method text the sheet carries.
A missing-value mark is never loaded as a value: the reader notes, row by row, which cells carry which mark.
A cell that is not a number ("63,,4") goes on, as printed, to the checks that quarantine it.

Unusual tables are read with a layout (dwi/readers/xlsx.py): with `--layout`/`layout:` or a
<name>.layout.yaml beside the workbook, this reader hands the file to the layout reader.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from dwi.readers import Identity, Read, slug, xlsx
from dwi.readers.codes import tidy
from dwi.readers.text import Rejected
from dwi.reference import INDICATOR_FIELDS, load_reference

# A period header cell: a year, perhaps with a word for "year" and a footnote mark ("2018 год", "2019 2)").
YEAR = re.compile(r"^\s*((?:18|19|20)\d{2})\s*(?:г\.?|год[а]?|жыл|ж\.?|year)?\s*(?:\d+\)|\*+)?\s*$", re.I)
ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
QUARTER = re.compile(
    r"^\s*(iv|iii|ii|i|[1-4])\s*[-‑]?\s*(?:quarter|qtr|q|квартал|кв\.?|тоқсан|токсан)\s*(?:\d+\)|\*+)?\s*$", re.I
)
HALF = re.compile(r"^\s*(ii|i|[12])\s*[-‑]?\s*(?:half|полугодие|жартыжылдық)\s*(?:\d+\)|\*+)?\s*$", re.I)
WHOLE_YEAR = re.compile(r"^\s*(?:year|за год|год|жыл|жылы|annual)\s*(?:\d+\)|\*+)?\s*$", re.I)
# The bureau's legend: "…"/"..." no data, "-" phenomenon absent, "x"/"х" confidential.
MISSING = {
    "…": "no data (…)",
    "...": "no data (…)",
    "..": "no data (…)",
    "-": "phenomenon absent (-)",
    "–": "phenomenon absent (-)",
    "—": "phenomenon absent (-)",
    "x": "confidential (x)",
    "х": "confidential (x)",
}
TIER = re.compile(r"^\s*([MAFCЛСМАФ])\s*[-–—]\s*", re.I)  # "M - ...", "A- ...", "С – ..." (Latin or Cyrillic)
TIER_LATIN = {"М": "M", "А": "A", "С": "C"}  # Cyrillic look-alikes; any other mark ("Л") kept as printed
MARK = r"(?:\s*\d{1,2}\)|\*+)"  # a footnote mark: "3)", "*", "**"
SEX_WORDS = {
    "T": ["всего", "итого", "барлығы", "барлыгы", "барлық", "total", "both sexes", "оба пола", "всего населения"],
    "M": ["мужчины", "мужчин", "ерлер", "men", "male", "males", "мальчики", "ер балалар", "boys"],
    "F": ["женщины", "женщин", "әйелдер", "women", "female", "females", "девочки", "қыз балалар", "girls"],
}
UNIT_LINE = re.compile(  # a unit line of the title block starts with a unit ("человек, на начало года")
    r"^\s*(?:в процентах|процент|in percent|percent|per cent|пайыз|%|тыс\.?|тысяч|thousand|человек|persons|people|"
    r"адам|мың|тенге|теңге|tenge|млн|млрд|million|billion|единиц|units|число лет|жыл саны|years|лет)(?:\W|$)",
    re.I,
)
EXCEL_DEFAULT = re.compile(r"^Column\d+$")  # the headers Excel gives a table ("Column1", ...): not the bureau's
CONTINUATION = re.compile(r"^\s*(?:продолжение|continuation|жалғасы|окончание|end)\b", re.I)
NATIONAL = "Республика Казахстан"  # the region of indicator blocks (the country as a whole)
LATIN_LOOKALIKES = str.maketrans("AaBCcEeHKkMmOoPpTXxy", "АаВСсЕеНКкМмОоРрТХху")


def _text(cell: object) -> str:
    return re.sub(r"\s+", " ", str(cell)).strip() if cell is not None else ""


def _strip_mark(text: str) -> tuple[str, str | None]:
    """A label without its footnote mark, and the mark without its bracket: 'Туркестанская 3)' ->
    ('Туркестанская', '3'); 'rate1)' -> ('rate', '1'); 'Туркестанская 1' (a superscript digit) ->
    ('Туркестанская', '1'); '...%**' -> ('...%', '**')."""
    m = re.match(rf"^(.*?\S)\s*({MARK})\s*$", text) or re.match(r"^(.*[^\W\d_])\s+(\d{1,2})\s*$", text)
    if m and not re.fullmatch(r"\d{1,2}", m.group(1)):
        return m.group(1).strip(), m.group(2).strip().rstrip(")")
    return text.strip(), None


def sex_of(label: str) -> str | None:
    """T, M or F for a row label that names a sex (any of the three languages, with '(%)' or a unit after it)."""
    text = _strip_mark(label)[0].lower()
    text = re.sub(r"\s*(?:\(%\)|,?\s*%|\(в процентах\))\s*$", "", text).strip(" :,")
    for candidate in (text, text.translate(LATIN_LOOKALIKES)):
        for sex, words in SEX_WORDS.items():
            if candidate in words:
                return sex
    return None


def _region_keys() -> set[str]:
    aliases = load_reference().aliases
    return set(aliases["alias_key"].to_list())


def _region_key(label: str) -> str:
    key = re.sub(r"[\s\-\.]+", " ", _strip_mark(label)[0].lower().replace("ё", "е")).strip()
    return re.sub(r" обл$", " область", key)


def number(text: pl.Expr) -> pl.Expr:
    """The bureau's number as plain text: spaces (also non-breaking) between digit groups dropped, a decimal
    comma made a point, a trailing footnote mark dropped ('681 310' -> '681310', '78,8*' -> '78.8').
    Anything else stays as printed, for the checks to quarantine ('63,,4')."""
    s = text.str.strip_chars()
    bare = s.str.replace(rf"{MARK}$", "").str.strip_chars()
    grouped = bare.str.replace_all(r"(\d)[\s\u00a0\u202f\u2009]+(\d{3})\b", "$1$2").str.replace_all(
        r"(\d)[\s\u00a0\u202f\u2009]+(\d{3})\b", "$1$2"
    )
    plain = grouped.str.replace(r"^([-−]?\d+),(\d+)$", "$1.$2").str.replace("−", "-")
    return pl.when(plain.str.contains(r"^[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$")).then(plain).otherwise(s)


def footnote_mark(text: pl.Expr) -> pl.Expr:
    """The footnote mark after a number ('78,8*' -> '*', '5,4 1)' -> '1)'), else null."""
    return text.str.strip_chars().str.extract(rf"\d\s*({MARK})$", 1).str.strip_chars().str.strip_chars_end(")")


@dataclass
class Table:
    """One sheet's table: where its header and label column are, and what its title block says."""

    sheet: str
    title: str
    unit: str | None
    label_col: int
    header_row: int
    periods: list[dict]  # one per period column: column, letter, year, period, header text
    text_cols: dict[int, str]  # columns headed by text (a method column): index -> header
    body_start: int
    notes: list[str] = field(default_factory=list)


def _find_header(grid: pl.DataFrame) -> tuple[int, list[int]] | None:
    """The first row with at least two year cells (right of the first column), and those columns."""
    for r, row in enumerate(grid.head(60).iter_rows()):
        years = [c for c, cell in enumerate(row) if c > 0 and cell is not None and YEAR.match(str(cell))]
        if len(years) >= 2:
            return r, years
    return None


def shape(grid: pl.DataFrame) -> tuple[int, list[int]] | None:
    """The stat.gov.kz shape: a year header whose label column has no header of its own. A row of measure
    headers above the years (with a header over the label column, e.g. 'Регион / Region') is an unusual table
    that needs a layout."""
    found = _find_header(grid)
    if found is None:
        return None
    r, years = found
    if r > 0 and not all(EXCEL_DEFAULT.match(_text(c)) for c in grid.row(r - 1) if _text(c)):
        above = grid.row(r - 1)
        first = min(years)
        label_above = any(_text(c) for c in above[:first])
        spans = any(_text(c) for c in above[first:])
        if label_above and spans:
            return None
    return found


def detect(path: Path | None) -> bool:
    """A workbook with a sheet of the stat.gov.kz shape (see `shape`), among its first 12 sheets."""
    if path is None:
        return False
    try:
        import fastexcel

        names = fastexcel.read_excel(str(path)).sheet_names
        for name in names[:12]:
            grid, _, _ = xlsx.read_sheet(path, path.name, name)  # refuses a sheet too big to read
            if grid.height and shape(grid) is not None:
                return True
    except Exception:  # a damaged workbook: the xlsx format's reader says what is wrong
        return False
    return False


def _table(grid: pl.DataFrame, sheet: str, file: str, where) -> Table | None:
    found = shape(grid)
    if found is None:
        return None
    hr, year_cols = found
    first = min(year_cols)
    header = grid.row(hr)
    sub = grid.row(hr + 1) if hr + 1 < grid.height else (None,) * grid.width
    sub_is_periods = any(
        _text(c) and (QUARTER.match(_text(c)) or HALF.match(_text(c)) or WHOLE_YEAR.match(_text(c)))
        for c in sub[first:]
    )
    label_col = next((c for c in range(first) if grid.slice(hr + 1).get_column(grid.columns[c]).drop_nulls().len()), 0)
    periods, text_cols, year = [], {}, None
    for c in range(first, grid.width):
        head = _text(header[c])
        m = YEAR.match(head) if head else None
        if m:
            year = int(m.group(1))
        elif head:
            text_cols[c] = head
            year = None
            continue
        if year is None:
            continue
        if sub_is_periods:
            label = _text(sub[c])
            if not label:
                continue
            if q := QUARTER.match(label):
                period = f"Q{ROMAN[q.group(1).lower()]}"
            elif h := HALF.match(label):
                period = f"H{ROMAN[h.group(1).lower()]}"
            elif WHOLE_YEAR.match(label):
                period = "Y"
            else:
                raise Rejected(
                    file,
                    f"sheet {sheet!r}, cell {where(hr + 1, c)}: expected a quarter, half-year or 'year' under "
                    f"{year} (e.g. 'I квартал', 'I quarter', 'год'), found {label!r}; write a layout for this "
                    "table (dwi/reference/layouts/README.md)",
                    "file:header",
                    where(hr + 1, c),
                )
            periods.append({"c": c, "year": year, "period": period, "head": f"{year} {label}"})
        elif m:
            periods.append({"c": c, "year": year, "period": "Y", "head": head})
    # the title block: texts above the header (and the header's own label cell, where the title sits in A1)
    texts = [
        _text(v)
        for row in grid.head(hr + 1).iter_rows()
        for c, v in enumerate(row)
        if _text(v) and (c <= label_col or not YEAR.match(_text(v))) and c not in text_cols
    ]
    texts = [t for t in texts if not CONTINUATION.match(t) and not EXCEL_DEFAULT.match(t)]
    units = [t for t in texts if UNIT_LINE.match(t)]
    titles = [t for t in dict.fromkeys(texts) if not UNIT_LINE.match(t) and not QUARTER.match(t)]
    title = _strip_mark(titles[0])[0] if titles else sheet
    return Table(
        sheet, title, units[0] if units else None, label_col, hr, periods, text_cols, hr + (2 if sub_is_periods else 1)
    )


def _unit_of(table_unit: str | None, *labels: str) -> str:
    """The unit the first of `labels` that prints one shows ('..., %', '(на 100 000 работающих), человек',
    '(%)', '(% от возрастной группы)'), else the table's unit line."""
    for label in labels:
        text = _strip_mark(label)[0]
        if m := re.search(r"\(([^()]*%[^()]*)\)\s*$", text):
            return m.group(1).strip()
        if m := re.search(r",\s*([^,]{1,40})$", text):
            tail = m.group(1).strip()
            if "%" in tail:
                return tail if re.fullmatch(r"%(?: (?:от|of) [^()]+)?", tail) else "%"
            if re.search(r"человек|тенге|persons|tenge|адам|единиц|дней", tail):
                return tail
        if text.endswith("%"):
            return "%"
    return table_unit or "as in source"


def _code(title: str, path: list[str]) -> str:
    key = "|".join(re.sub(r"\s+", " ", p).strip().lower() for p in [title, *path])
    return "KZS_" + hashlib.sha1(key.encode()).hexdigest()[:10].upper()


def _plain(label: str) -> tuple[str, str | None]:
    """A heading without its tier mark: ('Уровень безработицы ...', 'M')."""
    m = TIER.match(label)
    if not m:
        return label, None
    tier = m.group(1).upper()
    return label[m.end() :].strip(), TIER_LATIN.get(tier, tier)


def _heading(label: str) -> tuple[str, str | None, str | None]:
    """A label without its footnote mark and tier mark: (name, tier, footnote mark)."""
    text, mark = _strip_mark(label)
    name, tier = _plain(text)
    return name, tier, mark


def _rows(grid: pl.DataFrame, t: Table, file: str, row0: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Each body row's role and meaning: (rows: i, label, mark, sex, region, code), the indicators, the footnotes.

    Headings (rows without values) are read in runs: a tier-marked heading is an indicator; headings without a
    tier mark before it are the section (a decent-work element); an unmarked heading last in its run is a
    sub-indicator of the heading above it ('Сегрегация ...' / 'Руководители ...'), and a lone one continues
    the sub-indicators of the same parent. The loop runs over row labels (the table's structure, a few hundred
    at most), never over cells."""
    regions = _region_keys()
    period_cols = [p["c"] for p in t.periods]
    body = grid.slice(t.body_start)
    labels = [_text(v) for v in body.get_column(grid.columns[t.label_col]).to_list()]
    filled = body.select(
        pl.sum_horizontal([pl.col(grid.columns[c]).str.strip_chars().fill_null("") != "" for c in period_cols]).alias(
            "n"
        )
    )["n"].to_list()
    texts = {c: [_text(v) for v in body.get_column(grid.columns[c]).to_list()] for c in t.text_cols}
    with_values = [lab for lab, n in zip(labels, filled, strict=False) if lab and n and sex_of(lab) is None]
    region_table = sum(_region_key(lab) in regions for lab in with_values) * 2 > len(with_values)
    footnotes: dict[str, str] = {}
    rows, indicators = [], {}
    run: list[tuple[str, str | None, int]] = []  # headings since the last row with values: (name, tier, row)
    section: list[str] = []
    parent: tuple[str, str | None, int] | None = None
    leaf: tuple[str, str | None, int] | None = None
    sex_context: str | None = None

    def method(*at: int) -> str | None:
        return next((texts[c][j] for j in at for c in texts if texts[c][j]), None)

    def register(path: list[str], tier: str | None, at: list[int], *unit_sources: str) -> str:
        code = _code(t.title, path)
        if code not in indicators:
            text = method(*at)
            indicators[code] = {
                "code": code,
                "name": " / ".join(path),
                "unit": _unit_of(t.unit, *unit_sources),
                "definition": text,
                "method": text,
                "label": path[-1],
                "tier": tier,
                "section": " / ".join(section) or None,
                "table_title": t.title,
                "source_ref": f"{file}, sheet '{t.sheet}', row {t.body_start + row0 + at[0] + 1}",
            }
        return code

    def settle(own_tier: bool) -> None:
        nonlocal parent, leaf, section
        if own_tier or run[-1][1] is not None:  # the row itself, or the last heading, is a tier-marked indicator
            section = [h[0] for h in run if h[1] is None] or section
            leaf, parent = (None, None) if own_tier else (run[-1], None)
        elif len(run) >= 2:  # an unmarked heading under the heading above it
            parent, leaf = run[-2], run[-1]
            section = [h[0] for h in run[:-2] if h[1] is None] or section
        else:  # a lone unmarked heading: the next sub-indicator of the same parent
            leaf = run[-1]

    for i, label in enumerate(labels):
        if not label:
            continue
        if filled[i] == 0:
            fm = re.match(r"^\s*(\d{1,2}\)|\*+)\s*(.+)$", label)
            if fm:
                footnotes[fm.group(1).rstrip(")")] = fm.group(2).strip()
            elif (sex := sex_of(label)) is not None:
                sex_context = sex  # a sex heading over region rows
            else:
                if rows and rows[-1]["i"] > (run[-1][2] if run else -1):
                    run = []
                run.append((*_heading(label)[:2], i))
            continue
        name, tier, mark = _heading(label)
        sex = sex_of(label)
        is_region = sex is None and (region_table or _region_key(label) in regions)
        own = sex is None and not is_region
        if run and not (rows and rows[-1]["i"] > run[-1][2]):
            settle(own and tier is not None)
            for h in run:
                if h[1] is not None and h is not leaf and h is not parent:
                    register([h[0]], h[1], [h[2]], h[0])  # an indicator the bureau lists without values
        if sex is not None and leaf is not None:
            path = [*([parent[0]] if parent else []), leaf[0]]
            at = [leaf[2], *([parent[2]] if parent else [])]
            code = register(path, leaf[1] or (parent[1] if parent else None), at, leaf[0], label)
        elif is_region:
            if leaf is None:
                code = register([t.title], None, [i], t.title)
            else:  # regions under a heading: the table's title, then the heading
                path = [t.title, *([parent[0]] if parent else []), leaf[0]]
                code = register(path, leaf[1], [leaf[2]], leaf[0])
        elif own and tier is not None:
            parent, leaf = None, None
            code = register([name], tier, [i], label)
        else:
            base = [leaf[0]] if leaf is not None and sex is None else []
            code = register(
                [*base, name], tier or (leaf[1] if leaf else None), [i, *([leaf[2]] if leaf else [])], label
            )
        rows.append(
            {
                "i": i,
                "label": name if is_region or own else label,
                "mark": mark,
                "sex": sex or (sex_context if is_region else None) or "T",
                "region": name if is_region else None,
                "code": code,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            "i": pl.Int64,
            "label": pl.String,
            "mark": pl.String,
            "sex": pl.String,
            "region": pl.String,
            "code": pl.String,
        },
    )
    return frame, pl.DataFrame(list(indicators.values())), footnotes


def read_table(
    file: str, grid: pl.DataFrame, sheet: str, origin: tuple[int, int]
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]] | None:
    """One sheet as observations (string columns, `_row` = sheet row), its indicators and its notes; None when
    the sheet is not a table of this shape (a cover, a legend, a contents page). `origin`: the (row, column)
    of the grid's first cell (xlsx.read_sheet)."""
    row0, col0 = origin
    where = lambda r, c: f"{xlsx.column_letter(c + col0)}{r + row0 + 1}"  # noqa: E731
    t = _table(grid, sheet, file, where)
    if t is None or not t.periods:
        return None
    rows, indicators, footnotes = _rows(grid, t, file, row0)
    if not rows.height:
        return None
    cols = grid.columns
    spec = pl.DataFrame(
        [
            {
                "column": cols[p["c"]],
                "c": p["c"],
                "letter": xlsx.column_letter(p["c"] + col0),
                "year": str(p["year"]),
                "period": p["period"],
                "period_text": p["head"],
            }
            for p in t.periods
        ]
    )
    body = grid.slice(t.body_start).with_row_index("i").with_columns(pl.col("i").cast(pl.Int64))
    long = (
        body.join(rows, on="i", how="inner")
        .select("i", "label", "mark", "sex", "region", "code", *[pl.col(c) for c in spec["column"]])
        .unpivot(index=["i", "label", "mark", "sex", "region", "code"], variable_name="column", value_name="printed")
        .with_columns(pl.col("printed").str.strip_chars())
        .filter(pl.col("printed").is_not_null() & (pl.col("printed") != ""))
        .join(spec, on="column", how="left")
        .with_columns(
            (pl.col("i") + t.body_start + row0 + 1).alias("_row"),
            pl.col("printed").replace_strict(MISSING, default=None).alias("missing"),
        )
    )
    units = dict(zip(indicators["code"], indicators["unit"], strict=False))
    missing = long.filter(pl.col("missing").is_not_null())
    notes = []
    if missing.height:
        per_row = (
            missing.group_by("_row", "label", "missing", maintain_order=True)
            .agg(pl.len().alias("n"), pl.concat_str(pl.col("letter"), pl.col("_row").cast(pl.String)).alias("cells"))
            .sort("_row")
        )
        notes = [
            f"sheet '{sheet}', row {r['_row']} ({r['label']}): {r['n']} cell(s) marked {r['missing']}, "
            f"not loaded as values ({', '.join(r['cells'][:6])}{', ...' if r['n'] > 6 else ''})"
            for r in per_row.iter_rows(named=True)
        ]
    values = long.filter(pl.col("missing").is_null()).with_columns(
        number(pl.col("printed")).alias("value"),
        footnote_mark(pl.col("printed")).alias("value_mark"),
        pl.col("period_text")
        .str.extract(rf"({MARK})\s*$", 1)
        .str.strip_chars()
        .str.strip_chars_end(")")
        .alias("period_mark"),
    )

    def cite(mark: str, what: str) -> pl.Expr:
        text = pl.col(mark).replace_strict(footnotes, default="(no footnote text in the sheet)")
        return pl.when(pl.col(mark).is_not_null()).then(
            pl.concat_str(pl.lit("footnote "), pl.col(mark), pl.lit(f" ({what}): "), text)
        )

    out = values.with_columns(
        pl.col("code").alias("indicator_code"),
        pl.col("region").fill_null(pl.lit(NATIONAL)),  # indicator blocks: the national figure
        pl.lit("KAZ").alias("country"),
        pl.col("code").replace_strict(units, default=None).alias("unit"),
        pl.concat_str(
            [cite("value_mark", "on the value"), cite("mark", "on the row"), cite("period_mark", "on the period")],
            separator="; ",
            ignore_nulls=True,
        )
        .replace("", None)
        .alias("note"),
        pl.concat_str(
            pl.lit(f"{file}, sheet '{sheet}', cell "),
            pl.col("letter"),
            pl.col("_row").cast(pl.String),
            pl.lit(" ("),
            pl.col("label"),
            pl.lit(", "),
            pl.col("period_text"),
            pl.lit("), printed '"),
            pl.col("printed"),
            pl.lit("'"),
        ).alias("source_ref"),
    ).sort("_row", "c")
    return tidy(out), indicators, notes


def read(path: Path, file: str, options: dict) -> Read:
    """Every sheet of the stat.gov.kz shape, without a layout (see the module docstring); with a layout, the
    layout reader."""
    if options.get("layout") or path.with_name(path.name.split(".")[0] + ".layout.yaml").is_file():
        return xlsx.read(path, file, options)
    import fastexcel

    try:
        names = fastexcel.read_excel(str(path)).sheet_names
    except Exception as exc:  # calamine raises several error types for a damaged workbook
        raise Rejected(file, f"not a readable .xlsx workbook ({str(exc).splitlines()[0][:120]})", "file:xlsx") from None
    frames, registered, notes, skipped = [], [], [], []
    for name in names:
        grid, _, origin = xlsx.read_sheet(path, file, name)
        table = read_table(file, grid, name, origin) if grid.height else None
        if table is None:
            skipped.append(name)
            continue
        frames.append(table[0])
        registered.append(table[1])
        notes += table[2]
    if not frames:
        raise Rejected(
            file,
            "no sheet has a stat.gov.kz table (a header of years across, the labels in the first column); "
            "write a layout for it (dwi/reference/layouts/README.md) and pass it with --layout",
            "file:header",
        )
    if skipped:
        notes.insert(0, f"sheets without a table of years across, not read: {', '.join(map(repr, skipped))}")
    indicators = pl.concat(registered, how="diagonal_relaxed").unique("code", keep="first", maintain_order=True)
    return Read(iter([pl.concat(frames)]), notes, catalogue(indicators))


def catalogue(indicators: pl.DataFrame) -> pl.DataFrame:
    """The registered indicators in the registry's columns plus the bureau's own (label, tier, section,
    table title, where the row is)."""
    extra = ["label", "tier", "section", "table_title", "source_ref"]
    base = pl.DataFrame(schema=INDICATOR_FIELDS)
    return (
        pl.concat([base, indicators], how="diagonal_relaxed")
        .with_columns(
            pl.col("additive", "partial", "derived").fill_null(False),
            pl.concat_str(
                pl.lit("stat.gov.kz table '"), pl.col("table_title"), pl.lit("'; "), pl.col("source_ref")
            ).alias("notes"),
        )
        .select(*INDICATOR_FIELDS, *extra)
    )


def identify(path: Path, options: dict) -> Identity | None:
    """The dataset is the table: the title of the workbook's first table (with a layout, the layout reader's
    identity). The key is the one the layout reader gives the same title, so either reading is one dataset."""
    if options.get("layout") or path.with_name(path.name.split(".")[0] + ".layout.yaml").is_file():
        return xlsx.identify(path, options)
    import fastexcel

    for name in fastexcel.read_excel(str(path)).sheet_names:
        grid, _, _ = xlsx.read_sheet(path, path.name, name)
        t = _table(grid, name, path.name, lambda r, c: "") if grid.height else None
        if t is not None and t.title:
            return Identity(f"table:{xlsx._key(t.title)}", slug(t.title, 40), t.title)
    return None
