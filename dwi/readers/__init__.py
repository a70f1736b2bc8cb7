"""Readers for the files users bring: ILOSTAT bulk CSV, WDI-style CSV and agency spreadsheets.

Every reader returns a `Tidy` result: a frame of strings in the tidy observation layout
(schemas/observations.py REQUIRED + OPTIONAL, plus `country`, `classif1`, `classif2`, `scale`
and `_row` = the row in the file), so that harmonise, validate, quarantine, load and provenance are
the same as for the project's own tidy files.
"""

from __future__ import annotations

from dwi.readers.common import READER_FORMATS, Tidy, frame_format, read_source

__all__ = ["READER_FORMATS", "Tidy", "frame_format", "read_source"]
