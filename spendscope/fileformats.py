"""How DuckDB reads an input file: its format from the first bytes, and the table function for it."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from spendscope.errors import BadData

NULL_STRINGS = ("NULL", "")
"""CSV cells read as null: empty, and the literal NULL that some exporters write."""


def file_format(path: Path) -> Literal["parquet", "csv"]:
    """'parquet' or 'csv', from the file's first bytes (not its name): PAR1 is Parquet."""
    with path.open("rb") as fh:
        head = fh.read(4)
    return "parquet" if head == b"PAR1" else "csv"


def check_gzip(path: Path) -> None:
    """Refuse a gzip file whose content fails its CRC-32 or ends early (BadData naming the file).

    DuckDB inflates gzip without checking the CRC: a flipped bit inside a stored (uncompressed) block changes a
    digit and still loads. Costs one streaming inflate of the file; a file not starting with the gzip magic passes.
    """
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return
    try:
        with gzip.open(path, "rb") as gz:
            while gz.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise BadData(f"corrupt gzip file: {exc}; nothing was loaded", source=str(path)) from exc


def reader_sql(fmt: str) -> str:
    """The DuckDB table function reading one file bound as $path (CSV: every column as text, so
    the caller's casts decide what is valid; gzip is detected by DuckDB)."""
    if fmt == "parquet":
        return "read_parquet($path)"
    nulls = ", ".join(f"'{s}'" for s in NULL_STRINGS)
    return f"read_csv($path, header = true, all_varchar = true, nullstr = [{nulls}])"


def diagnose_casts(
    name: str, path: str, fmt: str, columns: Sequence[tuple[str, str, str]], exc: BaseException
) -> BadData:
    """The one-line error for a load that failed reading ``path``: the first column whose value does
    not cast, or DuckDB's own first line. ``columns`` is (column name, quoted identifier in the file,
    target type); ``name`` is how the file is named to the user (a path or an s3:// URI)."""
    import duckdb

    probe = duckdb.connect()
    try:
        probe.execute("SET TimeZone = 'UTC'")
        for column, ident, target in columns:
            try:
                bad = probe.execute(
                    f"SELECT CAST({ident} AS VARCHAR) FROM {reader_sql(fmt)} "
                    f"WHERE {ident} IS NOT NULL AND TRY_CAST({ident} AS {target}) IS NULL LIMIT 1",
                    {"path": path},
                ).fetchone()
            except duckdb.Error:
                break  # the file itself is unreadable: report DuckDB's message below
            if bad:
                what = "a date/time" if "TIMESTAMP" in target else "a number"
                return BadData(
                    f"column {column}: value {str(bad[0])[:60]!r} is not {what}; nothing was loaded", source=name
                )
    finally:
        probe.close()
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BadData(f"cannot read file: {first}; nothing was loaded", source=name)
