"""Export the warehouse's rows of one billing period as a FOCUS 1.2 file (Parquet or CSV).

Every FOCUS 1.2 column is written, in the spec's order, null where the source had nothing; the
provider extension columns (x_…) follow. Tags and SkuPriceDetails are JSON object strings,
timestamps UTC, money DECIMAL(38, 12): what the FinOps Foundation's validator expects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from spendscope.errors import ExporterError
from spendscope.focus import COLUMNS_BY_NAME, EXTENSION_COLUMNS, FOCUS_1_2_COLUMNS


def period_start(period: str) -> datetime:
    """'YYYY-MM' → the first instant of that month in UTC."""
    try:
        return datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ExporterError(f"period {period!r} is not YYYY-MM") from None


def focus_select() -> str:
    """SELECT list of a FOCUS 1.2 export (identifiers from spendscope.focus, a fixed set)."""
    parts = []
    for name in FOCUS_1_2_COLUMNS:
        col = COLUMNS_BY_NAME[name]
        parts.append(f"CAST({name} AS VARCHAR) AS {name}" if col.type == "json" else name)
    parts += [c for c in EXTENSION_COLUMNS if c != "x_Extensions"]
    return ", ".join(parts)


def export_focus(conn: duckdb.DuckDBPyConnection, *, period: str, out: Path) -> int:
    """Write the period's rows to ``out`` (.parquet, or .csv/.csv.gz); return the row count.

    Rows are those of the currently loaded units whose BillingPeriodStart is the period's month.
    """
    start = period_start(period)
    fmt = "CSV" if out.name.lower().endswith((".csv", ".csv.gz")) else "PARQUET"
    out.parent.mkdir(parents=True, exist_ok=True)
    in_period = "BillingPeriodStart >= $start AND BillingPeriodStart < $start + INTERVAL 1 MONTH"
    order = "ORDER BY ProviderName, ChargePeriodStart, ServiceName"
    query = f"SELECT {focus_select()} FROM billing WHERE {in_period} {order}"
    row = conn.execute(f"SELECT count(*) FROM billing WHERE {in_period}", {"start": start}).fetchone()
    count = int(row[0]) if row else 0
    if count == 0:
        raise ExporterError(f"no billing rows for period {period}", source=str(out))
    tmp = out.with_name(f".tmp-{out.name}")  # keeps the extension, which selects compression
    options = "FORMAT PARQUET, COMPRESSION ZSTD" if fmt == "PARQUET" else "FORMAT CSV, HEADER"
    # COPY takes no parameters in its target; the path is a quoted literal, the query is bound.
    target = str(tmp).replace("'", "''")
    conn.execute(f"COPY ({query}) TO '{target}' ({options})", {"start": start})
    tmp.replace(out)
    return count
