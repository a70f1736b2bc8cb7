"""dwi's own table files (formats observations, conventions, dwcp_assessments): a header naming the columns
of the rows they hold (dwi/schemas), one row per record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dwi.readers import Read
from dwi.readers.text import read_table, table_batches


def reader(required: list[str], optional: list[str]) -> Callable[[Path, str, dict], Read]:
    """The reader of a table whose header holds the `required` columns and may hold the `optional` ones."""

    def read(path: Path, file: str, options: dict) -> Read:
        csv_file, columns = read_table(path, file, required, optional)
        return Read(table_batches(csv_file, columns, optional), csv_file.notes)

    return read
