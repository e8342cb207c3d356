"""Loading unit-cost denominators (transactions per service per time bucket) into ``transactions``.

A file of ``service,timestamp,count`` rows (CSV or Parquet; timestamp = bucket start, UTC) replaces,
in one transaction, the rows of the same source in the time range it covers: re-running is a no-op.
A collector's frame (``store_transactions``, e.g. from Prometheus) replaces the source's rows in
the range it was asked for, so a window that has no sample any more loses its old row too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from spendscope import sql
from spendscope.errors import BadData, WarehouseError
from spendscope.fileformats import file_format, reader_sql
from spendscope.warehouse.db import transaction

__all__ = ["TRANSACTION_COLUMNS", "load_transactions", "store_transactions"]

TRANSACTION_COLUMNS = ["service", "window_start", "window_end", "count"]
_FRAME = "transactions_frame"


def load_transactions(conn: duckdb.DuckDBPyConnection, path: Path, *, source: str, bucket: str = "1 hour") -> int:
    """Load one file; return the number of rows now stored for its range.

    ``bucket`` is the length of each row's window as a DuckDB interval ('1 hour', '1 day').
    """
    try:
        fmt = file_format(path)
    except OSError as exc:
        raise BadData(f"cannot read transactions: {exc.strerror or exc}", source=str(path)) from exc
    params = {"path": str(path), "bucket": bucket}
    select = (
        f"SELECT CAST(service AS VARCHAR) AS service, CAST(timestamp AS TIMESTAMPTZ) AS window_start, "
        f"CAST(timestamp AS TIMESTAMPTZ) + CAST($bucket AS INTERVAL) AS window_end, "
        f"CAST(count AS DECIMAL(38, 6)) AS count FROM {reader_sql(fmt)}"
    )
    try:
        with transaction(conn):
            conn.execute(f"CREATE OR REPLACE TEMP TABLE _tx AS {select}", params)
            bad = conn.execute(
                "SELECT count(*) FROM _tx WHERE service IS NULL OR window_start IS NULL OR count IS NULL OR count < 0"
            ).fetchone()
            if bad and bad[0]:
                raise BadData(f"{bad[0]} rows with an empty service/timestamp or a negative count", source=str(path))
            conn.execute(
                "DELETE FROM transactions WHERE source = $source AND window_start BETWEEN "
                "(SELECT min(window_start) FROM _tx) AND (SELECT max(window_start) FROM _tx)",
                {"source": source},
            )
            conn.execute("INSERT INTO transactions SELECT *, $source, NULL FROM _tx", {"source": source})
            row = conn.execute("SELECT count(*) FROM _tx").fetchone()
            conn.execute("DROP TABLE _tx")
    except duckdb.Error as exc:
        raise BadData(f"cannot load transactions: {str(exc).splitlines()[0]}", source=str(path)) from exc
    return int(row[0]) if row else 0


def store_transactions(
    conn: duckdb.DuckDBPyConnection, frame: pl.DataFrame, *, source: str, start: datetime, end: datetime
) -> int:
    """Replace ``source``'s rows whose window starts in [start, end) with ``frame``, in one transaction.

    ``frame`` has TRANSACTION_COLUMNS (a collector's output); rows with an empty service, a window
    outside [start, end) or a negative or missing count are refused before anything is deleted.
    Returns the number of rows inserted.
    """
    missing = [c for c in TRANSACTION_COLUMNS if c not in frame.columns]
    if missing:
        raise WarehouseError(f"transactions frame lacks {', '.join(missing)}", source=source)
    bad = frame.filter(
        pl.col("service").is_null()
        | (pl.col("service") == "")
        | pl.col("window_start").is_null()
        | pl.col("window_end").is_null()
        | (pl.col("window_end") <= pl.col("window_start"))
        | (pl.col("window_start") < start)
        | (pl.col("window_start") >= end)
        | pl.col("count").is_null()
        | (pl.col("count") < 0)
    )
    if bad.height:
        raise BadData(
            f"{bad.height} transaction rows with an empty service, a window outside [{start}, {end}) "
            "or a missing/negative count",
            source=source,
        )
    conn.register(_FRAME, frame.select(TRANSACTION_COLUMNS).to_arrow())
    try:
        with transaction(conn):
            conn.execute(sql.load("transactions/delete_range"), {"source": source, "start": start, "end": end})
            conn.execute(sql.load("transactions/insert_frame"), {"source": source})
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot store transactions: {str(exc).splitlines()[0]}", source=source) from exc
    finally:
        conn.unregister(_FRAME)
    return frame.height
