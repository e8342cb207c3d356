"""How DuckDB reads an input file: its format from the first bytes, and the table function for it."""

from __future__ import annotations

import csv
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


_TAIL_BYTES = 1 << 21
"""How much of a CSV's end ``csv_damage`` keeps to find its last row (a longer last row is not checked)."""


def csv_damage(path: Path) -> str | None:
    """Why a CSV (plain or gzip) is unreadable as a table, when it is empty or cut short, else None: empty;
    ending inside a quoted field (an odd number of quote characters: RFC 4180 doubles quotes inside a field);
    a single line with no line end; a last row with fewer fields than the header.

    DuckDB reports such files misleadingly (it falls back to one column named after the whole header, so every
    mandatory column looks missing, or fails on a cast). One streaming pass over the file: call it when a
    load already failed, not on every file."""
    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    quotes = size = 0
    head = tail = b""
    with gzip.open(path, "rb") if gz else path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            quotes += chunk.count(b'"')
            size += len(chunk)
            if len(head) < _TAIL_BYTES:
                head += chunk[: _TAIL_BYTES - len(head)]
            tail = (tail + chunk)[-_TAIL_BYTES:]
    if size == 0:
        return "the file is empty"
    if b"\x00" in head:
        return None  # UTF-16 or binary: not a text CSV, DuckDB's own message says more
    if quotes % 2:
        return "the file is truncated: it ends inside a quoted field"
    if b"\n" not in head:
        return "the file is truncated: its only line has no line end"
    # The last row starts after the last line end outside quotes (an even number of quotes before it).
    body = tail.rstrip(b"\r\n")
    quotes_before = quotes - tail.count(b'"')
    start = body.rfind(b"\n")
    while start >= 0 and (quotes_before + body[:start].count(b'"')) % 2:
        start = body.rfind(b"\n", 0, start)
    if start < 0:
        return None  # one line (the header), or a last row longer than the tail kept
    header_line = head.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace").lstrip("\ufeff")
    delimiter = max(",;\t|", key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter))
    last = next(csv.reader([body[start + 1 :].decode("utf-8", "replace")], delimiter=delimiter), [])
    if len(last) < len(header):
        return f"the file is truncated: its last row has {len(last)} of the header's {len(header)} fields"
    return None


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

    if fmt == "csv":
        damage = csv_damage(Path(path))
        if damage is not None:
            return BadData(f"{damage}; nothing was loaded", source=name)
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
