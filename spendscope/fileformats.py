"""How DuckDB reads an input file: its format from the first bytes, and the table function for it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

NULL_STRINGS = ("NULL", "")
"""CSV cells read as null: empty, and the literal NULL that some exporters write."""


def file_format(path: Path) -> Literal["parquet", "csv"]:
    """'parquet' or 'csv', from the file's first bytes (not its name): PAR1 is Parquet."""
    with path.open("rb") as fh:
        head = fh.read(4)
    return "parquet" if head == b"PAR1" else "csv"


def reader_sql(fmt: str) -> str:
    """The DuckDB table function reading one file bound as $path (CSV: every column as text, so
    the caller's casts decide what is valid; gzip is detected by DuckDB)."""
    if fmt == "parquet":
        return "read_parquet($path)"
    nulls = ", ".join(f"'{s}'" for s in NULL_STRINGS)
    return f"read_csv($path, header = true, all_varchar = true, nullstr = [{nulls}])"
