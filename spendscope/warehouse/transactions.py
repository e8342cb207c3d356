"""Loading unit-cost denominators (transactions per service per time bucket) into ``transactions``.

A file of ``service,timestamp,count`` rows (CSV or Parquet; timestamp = bucket start, UTC) replaces,
in one transaction, the rows of the same source in the time range it covers: re-running is a no-op.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from spendscope.errors import BadData
from spendscope.fileformats import file_format, reader_sql
from spendscope.warehouse.db import transaction


def load_transactions(conn: duckdb.DuckDBPyConnection, path: Path, *, source: str, bucket: str = "1 hour") -> int:
    """Load one file; return the number of rows now stored for its range."""
    fmt = file_format(path)
    params = {"path": str(path)}
    select = (
        f"SELECT CAST(service AS VARCHAR) AS service, CAST(timestamp AS TIMESTAMPTZ) AS window_start, "
        f"CAST(timestamp AS TIMESTAMPTZ) + INTERVAL '{bucket}' AS window_end, "
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
