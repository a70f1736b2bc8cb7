"""The source manifest (raw/manifest.yaml): which files to load, in which format, with what provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dwi.config import settings
from dwi.errors import DwiError, excerpt

META_FIELDS = ("title", "publisher", "document", "table", "page", "reference_date", "coverage", "notes")
MANIFEST = "manifest.yaml"


@dataclass(frozen=True)
class Source:
    id: str
    path: Path
    format: str
    meta: dict = field(default_factory=dict, hash=False, compare=False)
    accepted: frozenset[tuple[int, str, str]] = field(default=frozenset(), hash=False, compare=False)
    """(row, column, check) of the source's known defects that the manifest accepts (`accepted_issues`)."""

    @property
    def display(self) -> str:
        """The path as a user wrote it in the manifest (relative to the source folder)."""
        return self.meta.get("_relpath", str(self.path))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve_inside(base: Path, relpath: str, what: str) -> Path:
    """`base / relpath`, refusing absolute paths and anything that resolves outside `base`."""
    base = base.resolve()
    if "\0" in relpath:
        raise DwiError(f"{what}: path {excerpt(relpath)} holds a NUL character")
    candidate = (base / relpath).resolve()
    if Path(relpath).is_absolute() or not candidate.is_relative_to(base):
        raise DwiError(f"{what}: path {excerpt(relpath, 200)} leaves the source folder {base}; use a path inside it")
    if candidate.is_file() and candidate.stat().st_nlink > 1:  # another name of the file may lie outside
        raise DwiError(
            f"{what}: path {excerpt(relpath, 200)} is a file with {candidate.stat().st_nlink} hard links; dwi reads "
            "only files whose one name is inside the source folder (copy it there instead of linking)"
        )
    return candidate


def yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, without quoting the file's lines (a YAML error prints the line, which may hold a
    secret): 'line 3, column 7: could not find expected ':''."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or type(exc).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + excerpt(problem, 80).strip("'\"")


def load_yaml(file: Path) -> object:
    """A YAML file dwi was given (manifest, layout): safe types only, at most max_yaml_aliases aliases (a
    "billion laughs" file is refused before it is built); errors name the line, never quote it."""
    try:
        text = file.read_text(encoding="utf-8")
        limit = settings().max_yaml_aliases
        aliases = sum(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader))
        if aliases > limit:
            raise DwiError(
                f"{file}: {aliases} YAML aliases (*name), more than {limit} (DWI_MAX_YAML_ALIASES); write the "
                "values out"
            )
        return yaml.safe_load(text)
    except UnicodeDecodeError:
        raise DwiError(f"{file}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise DwiError(f"{file}: not valid YAML: {yaml_problem(exc)}") from None
    except OSError as exc:
        raise DwiError(f"{file}: cannot be read: {exc.strerror}") from None


SCALARS = (str, int, float, bool, dt.date)


def load_manifest(raw: Path, formats: Collection[str]) -> list[Source]:
    """Read and check raw/manifest.yaml (`formats`: the format names dwi knows). Every problem is reported
    with the entry it belongs to."""
    file = raw / MANIFEST
    if not file.is_file():
        raise DwiError(f"{file}: no manifest; the source folder must hold a {MANIFEST} listing its files")
    doc = load_yaml(file) or {}
    entries = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(entries, list):  # an empty list is a new project's (dwi init)
        raise DwiError(f"{file}: expected a list under 'sources' (each with id, path and format)")
    sources, seen = [], set()
    for i, entry in enumerate(entries, 1):
        where = f"{file}, source #{i}"
        if not isinstance(entry, dict):
            raise DwiError(f"{where}: expected a mapping with id, path and format")
        nested = [
            k
            for k in ("id", "format", "path", "url", "layout", *META_FIELDS)
            if entry.get(k) is not None and not isinstance(entry[k], SCALARS)
        ]
        if nested:
            raise DwiError(f"{where}: {nested[0]} must be one value (text, a number, a date), not a list or mapping")
        missing = [k for k in ("id", "format") if not entry.get(k)]
        if not entry.get("path") and not entry.get("url"):
            missing.append("path (or url)")
        if missing:
            raise DwiError(f"{where}: missing {', '.join(missing)}")
        sid = str(entry["id"])
        if sid != sid.strip() or not sid.strip():
            raise DwiError(f"{where}: source id '{sid}' has spaces at its start or end; remove them")
        if sid.casefold() in seen:  # one source under two spellings would be loaded twice
            raise DwiError(f"{where}: duplicate source id '{sid}' (ids are compared ignoring letter case)")
        seen.add(sid.casefold())
        if entry["format"] not in formats:
            raise DwiError(f"{where} ({sid}): format '{entry['format']}' is not one of {', '.join(formats)}")
        relpath = str(entry.get("path") or Path("snapshots") / sid)  # url sources: see dwi.fetch
        path = resolve_inside(raw, relpath, f"{where} ({sid})")
        if not entry.get("url") and not path.is_file():
            raise DwiError(f"{where} ({sid}): file {entry['path']} not found in {raw}")
        meta = {k: ("" if entry.get(k) is None else str(entry.get(k))) for k in META_FIELDS}
        meta["_relpath"] = str(Path(raw.name) / relpath)
        meta.update({k: str(entry[k]) for k in ("url", "layout") if entry.get(k)})
        if "layout" in meta:
            meta["layout"] = str(_layout(raw, Path(relpath).parent, meta["layout"], f"{where} ({sid})"))
        accepted = _accepted_issues(entry.get("accepted_issues"), f"{where} ({sid})")
        sources.append(Source(sid, path, entry["format"], meta, accepted))
    return sources


def _layout(raw: Path, folder: Path, name: str, what: str) -> Path:
    """A manifest's `layout:`: a file beside the data file (or in the source folder), confined to it like the
    data, else a layout shipped with dwi (dwi/reference/layouts/<name>.yaml)."""
    from dwi.config import REFERENCE_DIR

    shipped = REFERENCE_DIR / "layouts" / f"{name}.yaml"
    for relpath in (str(folder / name), name):
        if (raw / relpath).exists() or Path(name).is_absolute() or ".." in Path(name).parts:
            return resolve_inside(raw, relpath, f"{what}, layout")
    if "/" not in name and "\\" not in name and shipped.is_file():
        return shipped
    return resolve_inside(raw, str(folder / name), f"{what}, layout")  # missing: the reader says so


def _accepted_issues(entries: object, where: str) -> frozenset[tuple[int, str, str]]:
    """`accepted_issues`: the source's known defects, each a cell (row, column) and the check that quarantines
    it, with why it is accepted. They stay quarantined and listed in quality_issues; they no longer make a
    run exit non-zero."""
    if entries is None:
        return frozenset()
    if not isinstance(entries, list):
        raise DwiError(f"{where}: accepted_issues must be a list of {{row, column, check, why}}")
    out = set()
    for i, e in enumerate(entries, 1):
        ok = isinstance(e, dict) and isinstance(e.get("row"), int) and e.get("column") and e.get("check")
        if not ok or not str(e.get("why") or "").strip():
            raise DwiError(f"{where}: accepted_issues #{i} needs row (a number), column, check and why")
        out.add((e["row"], str(e["column"]), str(e["check"])))
    return frozenset(out)
