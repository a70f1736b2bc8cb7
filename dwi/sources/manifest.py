"""The source manifest (raw/manifest.yaml): which files to load, in which format, with what provenance."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dwi.errors import DwiError

META_FIELDS = ("title", "publisher", "document", "table", "page", "reference_date", "coverage", "notes")
MANIFEST = "manifest.yaml"


@dataclass(frozen=True)
class Source:
    id: str
    path: Path
    format: str
    meta: dict = field(default_factory=dict, hash=False, compare=False)

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
    candidate = (base / relpath).resolve()
    if Path(relpath).is_absolute() or not candidate.is_relative_to(base):
        raise DwiError(f"{what}: path '{relpath}' leaves the source folder {base}; use a path inside it")
    return candidate


def load_manifest(raw: Path, formats: Collection[str]) -> list[Source]:
    """Read and check raw/manifest.yaml (`formats`: the format names dwi knows). Every problem is reported
    with the entry it belongs to."""
    file = raw / MANIFEST
    if not file.is_file():
        raise DwiError(f"{file}: no manifest; the source folder must hold a {MANIFEST} listing its files")
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DwiError(f"{file}: not valid YAML: {exc}") from None
    entries = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(entries, list):  # an empty list is a new project's (dwi init)
        raise DwiError(f"{file}: expected a list under 'sources' (each with id, path and format)")
    sources, seen = [], set()
    for i, entry in enumerate(entries, 1):
        where = f"{file}, source #{i}"
        if not isinstance(entry, dict):
            raise DwiError(f"{where}: expected a mapping with id, path and format")
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
        sources.append(Source(sid, path, entry["format"], meta))
    return sources
