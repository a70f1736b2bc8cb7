"""Detect a file's format from its content (magic bytes and header), not from its extension."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

from dwi.errors import DwiError

ILOSTAT_HEADER = {"ref_area", "indicator", "time", "obs_value"}
GZIP, ZIP = b"\x1f\x8b", b"PK\x03\x04"


def _head_text(path: Path, limit: int = 64_000) -> str:
    data = path.read_bytes()[: 1 << 20]
    if data[:2] == GZIP:
        try:  # a streaming decompressor reads the start of a truncated file too; the reader rejects it
            data = zlib.decompressobj(wbits=31).decompress(data, limit)
        except zlib.error:
            data = b""
    return data[:limit].decode("utf-8", errors="replace").lstrip("\ufeff")


def detect_format(path: Path) -> str:
    """ilostat | wdi | xlsx | observations | conventions | dwcp_assessments."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == ZIP:
        try:
            with zipfile.ZipFile(path) as z:
                if any(n.startswith("xl/") for n in z.namelist()):
                    return "xlsx"
        except zipfile.BadZipFile:
            return "xlsx"  # damaged workbook: the xlsx reader says so
        raise DwiError(
            f"{path}: a zip archive that is not an .xlsx workbook; unpack it and ingest the file inside"
        )
    text = _head_text(path)
    lines = text.splitlines()
    first = {c.strip().strip('"') for c in (lines[0] if lines else "").split(",")}
    if ILOSTAT_HEADER <= {c.removesuffix(".label") for c in first}:
        return "ilostat"
    from dwi.readers.wdi import header_line

    if header_line(lines) is not None:
        return "wdi"
    from dwi.read import sniff_format

    return sniff_format(path)
