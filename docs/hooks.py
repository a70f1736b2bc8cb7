"""MkDocs hooks: the reference parts of the docs are generated from the one place that states them.

`reference/views.md`, a whole page, comes from the YAML beside the SQL (dwi/store/sql/*/_*.yml). In the
hand-written pages, a marker (an HTML comment, invisible where the Markdown is read as is) is replaced by:

- `<!-- dwi:commands -->`: the list of commands, and `<!-- dwi:options NAME -->`: the arguments and options of
  `dwi NAME`, both from the `dwi` command itself (dwi/cli.py);
- `<!-- dwi:settings -->`: the DWI_* settings (dwi/config.py);
- `<!-- dwi:formats -->`: the format registry (dwi/formats.py), `<!-- dwi:rules -->`: the row rules (schemas/);
- `<!-- dwi:export-columns -->`: the columns of the exports (dwi/publish/exports.py);
- `<!-- dwi:regions -->`, `<!-- dwi:indicators -->`: the regions and the indicator registry (dwi/reference/).

A command without its own options marker in commands.md, or a marker naming no command, fails the build.
"""

from __future__ import annotations

import csv
import inspect
import re
import typing
from pathlib import Path

import yaml
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

VIEWS_PAGE = "reference/views.md"
SQL = Path("dwi") / "store" / "sql"
MARKER = re.compile(r"<!-- dwi:([a-z-]+)(?: ([a-z_-]+))? -->")


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def cell(text: object) -> str:
    """Text for a Markdown table cell: code spans kept, elsewhere `<`, `|`, `_` and `*` escaped."""
    parts = " ".join(str(text).split()).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"([|_*])", r"\\\1", parts[i].replace("&", "&amp;").replace("<", "&lt;"))
    return "`".join(parts)


def views_page(root: Path) -> str:
    """The views users query (marts) and the staging views, each with its description and its columns."""
    lines = [
        "# Views",
        "",
        "Every view of the warehouse, with its columns. This page is generated when the docs are built from "
        "`dwi/store/sql/marts/_marts.yml` and `dwi/store/sql/staging/_staging.yml`, the YAML files beside the "
        "SQL that defines the views (as dbt's schema.yml); a test checks that they list exactly the columns the "
        "warehouse has. To change a description, edit the YAML.",
        "",
        "Views whose name starts with `_` or `stg_` are internal steps; query the others. Tables whose name "
        "starts with `_` hold what the views read.",
        "",
    ]
    for folder in ("marts", "staging"):
        yml = root / SQL / folder / f"_{folder}.yml"
        views = yaml.safe_load(yml.read_text(encoding="utf-8"))["views"]
        lines += [f"## {folder.capitalize()}", ""]
        if folder == "staging":
            lines += ["Internal steps the marts read.", ""]
        lines += [", ".join(f"[`{v['name']}`](#{v['name']})" for v in views), ""]
        for view in views:
            name = view["name"]
            sql = SQL / folder / f"{name}.sql"
            lines += [f"### {name}", "", cell(view["description"]), ""]
            if (root / sql).is_file():
                lines += [f"Defined in `{sql.as_posix()}`.", ""]
            lines += ["| column | meaning |", "| --- | --- |"]
            lines += [f"| `{column}` | {cell(text)} |" for column, text in view["columns"].items()]
            lines.append("")
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, VIEWS_PAGE, content=views_page(_root(config))))
    return files


def _commands() -> dict:
    import typer

    from dwi.cli import app

    return typer.main.get_command(app).commands


def _summary(text: str | None) -> str:
    return " ".join((text or "").split())


def _help(text: str | None) -> str:
    return _summary(text).replace("\\[", "[")  # brackets escaped for Rich's markup in `--help`


def commands_table() -> str:
    rows = [f"| [`dwi {name}`](#dwi-{name}) | {cell(_summary(cmd.help))} |" for name, cmd in _commands().items()]
    return "\n".join(["| command | what it does |", "| --- | --- |", *rows])


def _metavar(param) -> str:
    """PATH, TEXT, ... from the parameter's annotation (a list's items for a repeatable one)."""
    kind = param.type_descriptor.annotation
    kind = typing.get_args(kind)[0] if typing.get_origin(kind) is list else kind
    return {Path: "PATH", str: "TEXT", int: "INTEGER", float: "NUMBER"}.get(kind, getattr(kind, "__name__", "VALUE"))


def options_table(name: str) -> str:
    """Usage and every argument and option of `dwi NAME`, as `dwi NAME --help` states them."""
    cmd = _commands().get(name)
    if cmd is None:
        raise PluginError(f"commands.md: a section for `dwi {name}`, which is not a command")
    usage, rows = [f"dwi {name}", "[OPTIONS]"], []
    for p in cmd.params:
        if p.param_type_name == "argument":
            shown = p.name.upper() + ("..." if p.nargs == -1 else "")
            usage.append(shown)
            rows.append(f"| `{shown}` | {cell(_help(p.help))} |")
            continue
        flags = " / ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
        text = _help(p.help)
        if p.multiple and "repeatable" not in text:
            text += " (repeatable)"
        if p.default not in (None, False) and "default" not in text:
            text += f" [default: {'--' + p.name if p.default is True else p.default}]"
        rows.append(f"| {flags}{'' if p.is_flag else ' ' + _metavar(p)} | {cell(text)} |")
    rows.append("| `--help` | show the command's help and exit |")
    return "\n".join([f"`{' '.join(usage)}`", "", "| argument or option | meaning |", "| --- | --- |", *rows])


def _shown(value: object) -> str:
    if isinstance(value, int) and value >= 1 << 20 and value % (1 << 20) == 0:
        return f"`{value}` ({value >> 20} MiB)"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`" if value != "" else "(none)"


def settings_table() -> str:
    """Every DWI_* setting of dwi.config.Settings: its default and the comment beside it."""
    from dwi import config

    source = inspect.getsource(config.Settings)
    found = re.findall(r"^\s+(\w+): \w+ = .+?\s+# (DWI_\w+): (.+)$", source, re.MULTILINE)
    if not found:
        raise PluginError("dwi/config.py: no settings found (expected `name: type = default  # DWI_NAME: meaning`)")
    defaults = config.Settings()
    rows = [f"| `{var}` | {_shown(getattr(defaults, name))} | {cell(text)} |" for name, var, text in found]
    return "\n".join(["| variable | default | what it sets |", "| --- | --- | --- |", *rows])


def formats_table() -> str:
    from dwi import formats

    aliases = {}
    for alias, name in formats.ALIASES.items():
        aliases.setdefault(name, []).append(alias)
    rows = [
        f"| `{f.name}`{''.join(f' (or `{a}`)' for a in aliases.get(f.name, []))} | {cell(f.summary)} | "
        f"`{f.target.name}` (table `{f.target.table}`) |"
        for f in formats.FORMATS.values()
    ]
    return "\n".join(["| format | what it reads | rows become |", "| --- | --- | --- |", *rows])


def rules_table() -> str:
    """Every row rule of the schemas (the `check` of an issue) and what it expects."""
    from dwi import formats

    rows = [f"| `{rule}` | {cell(text)} |" for rule, text in sorted(formats.schema_messages().items())]
    return "\n".join(["| rule | expected |", "| --- | --- |", *rows])


def regions_table(root: Path) -> str:
    """The regions of dwi/reference/regions.csv."""
    with open(root / "dwi" / "reference" / "regions.csv", encoding="utf-8", newline="") as fh:
        regions = list(csv.DictReader(fh))
    rows = [
        f"| `{r['code']}` | {cell(r['name_en'])} | {cell(r['name_ru'])} | {r['kind']} | {r['valid_from']} | "
        f"{r['valid_to']} | {r['legacy_alpha']} | {cell(r['formed_from'])} |"
        for r in regions
    ]
    head = "| code | name | Russian | kind | valid from | valid to | legacy code | formed from |"
    return "\n".join([head, "| --- | --- | --- | --- | --- | --- | --- | --- |", *rows])


def indicators_table(root: Path) -> str:
    """The indicators of the registry, dwi/reference/indicators.yaml, grouped by decent-work element."""
    doc = yaml.safe_load((root / "dwi" / "reference" / "indicators.yaml").read_text(encoding="utf-8"))
    known = set(doc["elements"])
    groups: dict[str | None, list[dict]] = {element: [] for element in [*doc["elements"], None]}
    for entry in doc["indicators"]:
        groups[entry.get("element") if entry.get("element") in known else None].append(entry)
    out = []
    for element, entries in groups.items():
        if not entries:
            continue
        out += [
            f"**{cell(element or 'Other')}**",
            "",
            "| code | name | unit | kind | ILOSTAT | SDG |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        out += [
            f"| `{e['code']}`{' (derived)' if e.get('derived') else ''} | {cell(e['name'])} | "
            f"{cell(e.get('unit', ''))} | {e.get('kind', '')} | {cell(e.get('ilostat') or '')} | "
            f"{cell(e.get('sdg') or '')} |"
            for e in entries
        ]
        out.append("")
    return "\n".join(out)


def export_columns_table() -> str:
    from dwi.publish.exports import COLUMNS

    rows = [f"| `{column}` | {cell(text)} |" for column, text in COLUMNS.items()]
    return "\n".join(["| column | meaning |", "| --- | --- |", *rows])


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    def replace(match: re.Match) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind == "options":
            return options_table(arg)
        makers = {
            "commands": commands_table,
            "settings": settings_table,
            "formats": formats_table,
            "rules": rules_table,
            "regions": lambda: regions_table(_root(config)),
            "indicators": lambda: indicators_table(_root(config)),
            "export-columns": export_columns_table,
        }
        if kind not in makers:
            raise PluginError(f"{page.file.src_uri}: unknown marker <!-- dwi:{kind} -->")
        return makers[kind]()

    if page.file.src_uri == "commands.md":
        documented = set(re.findall(r"<!-- dwi:options ([a-z_-]+) -->", markdown))
        missing = sorted(set(_commands()) - documented)
        if missing:
            raise PluginError(f"commands.md: no section for {', '.join(f'dwi {m}' for m in missing)}")
    return MARKER.sub(replace, markdown)
