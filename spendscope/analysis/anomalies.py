"""Spend anomalies from the warehouse: daily series scanned, anomalies with drivers stored as findings.

``find_anomalies`` reads two kinds of daily series (``sql/analysis/anomaly_*_series.sql``):

- ``service``: EffectiveCost per ProviderName × ServiceName × SubAccountId × RegionId × BillingCurrency
  from ``billing``, monthly bookings left out (ChargeFrequency 'Recurring'; Purchase, Tax, Credit);
- ``team``: EffectiveCost per team × currency from ``allocated_daily`` (empty until an allocation ran);

runs the pure detector (``spendscope.analysis.anomaly_detect``; its docstring describes the model, the
kinds, the floors and the severity) and ranks each anomaly's drivers from a breakdown of just the
anomalous series and days (``spendscope.analysis.anomaly_drivers``): x_UsageType, SkuId and ResourceId
for a service series; ServiceName, SubAccountId and RegionId for a team (``allocated_daily`` has no
resource grain). Daily grain only: hourly series are not scanned.

``run_anomalies`` replaces the ``anomaly`` findings in one transaction under one analysis run. A
finding's fingerprint is sha256 of ``series|dimensions JSON|kind|start`` (dimensions in SERIES_KEYS
order): stable across runs while the anomaly keeps its kind and start (a spike that persists becomes a
level shift, and a leak's estimated onset may move by a day as data arrives: a new fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from spendscope import sql
from spendscope.analysis.anomaly_detect import (
    DETECTION_COLUMNS,
    KINDS,
    AnomalyKind,
    AnomalySettings,
    SeriesKind,
    detect,
)
from spendscope.analysis.anomaly_drivers import DRIVER, rank_drivers
from spendscope.exporters.focus_file import period_start
from spendscope.warehouse import analysis_runs

__all__ = [
    "ANOMALY_COLUMNS",
    "KINDS",
    "SERIES_DRIVERS",
    "SERIES_KEYS",
    "AnomalyKind",
    "AnomalyRun",
    "AnomalySettings",
    "anomaly_records",
    "find_anomalies",
    "fingerprint",
    "read_anomalies",
    "run_anomalies",
]

log = logging.getLogger(__name__)

SERIES_KEYS: dict[SeriesKind, list[str]] = {
    "service": ["ProviderName", "ServiceName", "SubAccountId", "RegionId"],
    "team": ["team"],
}
"""The columns naming a series (FOCUS names; ``team`` from the allocation); currency comes on top."""

SERIES_DRIVERS: dict[SeriesKind, list[str]] = {
    "service": ["ResourceId", "x_UsageType", "SkuId"],
    "team": ["ServiceName", "SubAccountId", "RegionId"],
}
"""Driver dimensions of each series kind (FOCUS column names)."""

ANOMALY_COLUMNS = [
    "fingerprint",
    "series",
    "dimensions",
    "provider",
    "account_id",
    "region",
    *DETECTION_COLUMNS,
    "drivers",
]
"""Columns of ``find_anomalies``: one row per anomaly; ``dimensions`` is a JSON object (string)."""

_LOOKBACK_DAYS = 120  # history read before a period, for the baseline (history, level, weekday factors)
_DRIVER_WEEKS = 5  # history of a driver breakdown before the anomaly's start
_WINDOWS = "anomaly_windows"
_FRAME = "anomaly_frame"


@dataclass(frozen=True)
class AnomalyRun:
    run_id: int
    anomalies: pl.DataFrame
    """The anomalies written (ANOMALY_COLUMNS)."""


def fingerprint(series: str, dimensions: str, kind: str, start: date) -> str:
    """sha256 hex of ``series|dimensions|kind|start`` (dimensions: the JSON object of the series' keys)."""
    return hashlib.sha256(f"{series}|{dimensions}|{kind}|{start.isoformat()}".encode()).hexdigest()


def _fingerprints(parts: pl.Series) -> pl.Series:
    # One hash per anomaly (a handful); Polars has no stable sha256 expression.
    return pl.Series([fingerprint(*p.values()) for p in parts.to_list()], dtype=pl.String)


def _bounds(
    conn: duckdb.DuckDBPyConnection, *, period: str | None, now: datetime
) -> tuple[date, date, date | None] | None:
    """(first day read, last day judged, first day of the period or None); None without data."""
    row = conn.execute(
        "SELECT min(ChargePeriodStart), max(ChargePeriodStart) FROM billing WHERE ChargePeriodStart < $now",
        {"now": now},
    ).fetchone()
    if row is None or row[0] is None:
        return None
    first, last = row[0].astimezone(UTC).date(), row[1].astimezone(UTC).date()
    if period is None:
        return first, last, None
    start = period_start(period)
    month_end = (start + timedelta(days=32)).replace(day=1).date() - timedelta(days=1)
    return max(first, start.date() - timedelta(days=_LOOKBACK_DAYS)), min(last, month_end), start.date()


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def find_anomalies(
    conn: duckdb.DuckDBPyConnection,
    settings: AnomalySettings,
    *,
    period: str | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Anomalies (ANOMALY_COLUMNS) in the data before ``now`` (tz-aware; default: the current time).

    ``period`` ("YYYY-MM"): only anomalies starting in that month, judged with up to 120 days of
    history before it; None: every day of the data. Read-only.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    bounds = _bounds(conn, period=period, now=now)
    parts: list[pl.DataFrame] = []
    if bounds is not None:
        first, last, month = bounds
        for kind in settings.series:
            found = _series_anomalies(conn, settings, kind, first=first, last=last)
            if month is not None:
                found = found.filter(pl.col("start").dt.month_start() == month)
            parts.append(found)
    frame = pl.concat(parts, how="vertical") if parts else _empty()
    return frame.sort("start", "fingerprint").select(ANOMALY_COLUMNS)


def _series_anomalies(
    conn: duckdb.DuckDBPyConnection, settings: AnomalySettings, kind: SeriesKind, *, first: date, last: date
) -> pl.DataFrame:
    keys = SERIES_KEYS[kind]
    if kind == "service":
        series = conn.execute(
            sql.load("analysis/anomaly_service_series"), {"start": _at(first), "stop": _at(last + timedelta(days=1))}
        ).pl()
    else:
        series = conn.execute(sql.load("analysis/anomaly_team_series"), {"first_day": first, "last_day": last}).pl()
    if series.is_empty():
        return _empty()
    found = detect(series, settings, keys=keys, first_day=first, last_day=last).with_row_index("anomaly_id")
    if found.is_empty():
        return _empty()
    drivers = rank_drivers(
        found.select("anomaly_id", "start", "last_day", "recurring_days"),
        _breakdown(conn, kind, found),
        dimensions=SERIES_DRIVERS[kind],
        tolerance=settings.driver_tolerance,
        limit=settings.max_drivers,
    )
    dimensions = pl.struct(keys).struct.json_encode()
    return (
        found.join(drivers, on="anomaly_id", how="left")
        .with_columns(
            series=pl.lit(kind),
            dimensions=dimensions,
            provider=pl.col("ProviderName") if kind == "service" else pl.lit(None, pl.String),
            account_id=pl.col("SubAccountId") if kind == "service" else pl.lit(None, pl.String),
            region=pl.col("RegionId") if kind == "service" else pl.lit(None, pl.String),
        )
        .with_columns(
            fingerprint=pl.struct("series", "dimensions", "kind", "start").map_batches(
                _fingerprints, return_dtype=pl.String
            )
        )
        .select(ANOMALY_COLUMNS)
    )


def _breakdown(conn: duckdb.DuckDBPyConnection, kind: SeriesKind, found: pl.DataFrame) -> pl.DataFrame:
    """Driver rows (anomaly_id, day, driver dimensions, cost) of just the anomalous series and days."""
    lo = pl.col("start") - timedelta(weeks=_DRIVER_WEEKS)
    if kind == "service":
        windows = found.select(
            "anomaly_id",
            *SERIES_KEYS[kind],
            "currency",
            lo=lo.cast(pl.Datetime("us", "UTC")),
            hi=(pl.col("last_day") + timedelta(days=1)).cast(pl.Datetime("us", "UTC")),
        )
    else:
        windows = found.select("anomaly_id", "team", "currency", first_day=lo, last_day="last_day")
    conn.register(_WINDOWS, windows.to_arrow())
    try:
        return conn.execute(sql.load(f"analysis/anomaly_{kind}_drivers")).pl()
    finally:
        conn.unregister(_WINDOWS)


def _empty() -> pl.DataFrame:
    money = pl.Decimal(38, 12)
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "fingerprint": pl.String,
        "series": pl.String,
        "dimensions": pl.String,
        "provider": pl.String,
        "account_id": pl.String,
        "region": pl.String,
        "kind": pl.String,
        "start": pl.Date,
        "end": pl.Date,
        "detected_on": pl.Date,
        "last_day": pl.Date,
        "expected": money,
        "actual": money,
        "impact": money,
        "relative_change": pl.Float64,
        "currency": pl.String,
        "severity": pl.String,
        "flagged_days": pl.Int64,
        "recurring_days": pl.List(pl.Date),
        "drivers": pl.List(DRIVER),
    }
    return pl.DataFrame(schema=schema)


def run_anomalies(
    conn: duckdb.DuckDBPyConnection,
    settings: AnomalySettings,
    *,
    period: str | None = None,
    now: datetime | None = None,
) -> AnomalyRun:
    """Find anomalies and replace the ``anomaly`` findings with them, in one transaction, under one run.

    With ``period``, only the findings of anomalies starting in that month are replaced. first_seen is
    kept for fingerprints found before; last_seen is ``now``. A failed run keeps the previous findings
    and is recorded as failed. Run the allocation first for team series.
    """
    now = now or datetime.now(UTC)
    with analysis_runs.recorded_run(conn) as run_id:
        frame = find_anomalies(conn, settings, period=period, now=now)
        conn.register(_FRAME, frame.to_arrow())
        try:
            rows = conn.execute(sql.load("analysis/anomaly_findings"), {"now": now}).pl()
        finally:
            conn.unregister(_FRAME)
        scope, params = "kind = 'anomaly'", {}
        if period is not None:
            scope += " AND date_trunc('month', CAST(details->>'start' AS DATE)) = $month"
            params = {"month": period_start(period).date()}
        analysis_runs.replace_results(conn, "findings", rows, run_id=run_id, scope=scope, params=params)
    log.info("anomalies run_id=%d period=%s found=%d", run_id, period or "all", frame.height)
    return AnomalyRun(run_id, frame)


def read_anomalies(
    conn: duckdb.DuckDBPyConnection,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    kinds: list[str] | None = None,
) -> pl.DataFrame:
    """The stored anomaly findings overlapping [first_day, last_day] (``sql/queries/anomaly_findings.sql``);
    dimensions and drivers are JSON strings. Never recomputes."""
    return conn.execute(
        sql.load("queries/anomaly_findings"), {"from": first_day, "to": last_day, "kinds": kinds or []}
    ).pl()


def anomaly_records(frame: pl.DataFrame) -> list[dict[str, object]]:
    """``read_anomalies`` rows as JSON-ready dicts: dimensions and drivers parsed, money as float, dates ISO."""
    out = []
    for row in frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64)).iter_rows(named=True):
        record: dict[str, object] = {}
        for key, value in row.items():
            if key in ("dimensions", "drivers"):
                record[key] = json.loads(value) if value is not None else ([] if key == "drivers" else {})
            elif isinstance(value, date | datetime):
                record[key] = value.isoformat()
            else:
                record[key] = value
        out.append(record)
    return out
