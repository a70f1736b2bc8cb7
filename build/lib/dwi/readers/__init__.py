"""Readers: one per file format, each turning a file into batches of string rows.

A reader is a function `read(path, file, options) -> Read`. Its batches are polars frames of strings in the
layout of the rows they become (dwi/schemas: observations, conventions or programme assessments), with `_row`,
the row in the file. Readers of other agencies' files (ILOSTAT, World Bank, spreadsheets) lay their cells out
as observations, so the checks, the quarantine and the provenance are the same for every file. Readers never
touch the warehouse; which reader reads which file is declared in dwi/formats.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl


@dataclass
class Read:
    """A file being read: its batches (a generator: the file is read as they are taken), what the reader
    noticed (`notes`, complete once the batches are exhausted) and the indicators it registered on the fly
    (codes no mapping table covers; up to date with every batch taken)."""

    batches: Iterator[pl.DataFrame]
    notes: list[str] = field(default_factory=list)
    indicators: pl.DataFrame | None = None
