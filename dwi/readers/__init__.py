"""Readers: one per file format, each turning a file into batches of string rows.

A reader is a function `read(path, file, options) -> Read`. Its batches are polars frames of strings in the
layout of the rows they become (dwi/schemas: observations, conventions or programme assessments), with `_row`,
the row in the file. Readers of other agencies' files (ILOSTAT, World Bank, spreadsheets) lay their cells out
as observations, so the checks, the quarantine and the provenance are the same for every file. Readers never
touch the warehouse; which reader reads which file is declared in dwi/formats.py.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class Identity:
    """Which dataset a file holds, read from its content (see dwi/formats.py, `Format.identify`).

    `key` is the same for every download of one dataset and differs between datasets (e.g.
    'ilostat:UNE_2EAP_SEX_AGE_RT:A', 'worldbank:NY.GDP.MKTP.CD'); `name` is the readable source id made from it
    ('une_2eap_sex_age_rt_a'); `title` says it in words for the `sources` view."""

    key: str
    name: str
    title: str = ""


def slug(text: str, limit: int = 60) -> str:
    """A source id from text: lower case, runs of anything but letters and digits (of any script) as '_'.
    'UNE_2EAP_SEX_AGE_RT A' -> 'une_2eap_sex_age_rt_a', 'Занятость' -> 'занятость'; '' when nothing is left;
    at most `limit` characters, cut at a word's end."""
    words = re.sub(r"\W+|_+", "_", text.casefold()).strip("_")
    if len(words) > limit:  # cut at a word's end where there is one
        words = words[:limit].rsplit("_", 1)[0] if "_" in words[:limit] else words[:limit]
    return words.strip("_")
