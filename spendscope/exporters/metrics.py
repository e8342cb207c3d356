"""Prometheus exposition of the stored analysis results: ``CostMetricsCollector``.

A scrape never queries a cloud or runs the analysis. The collector serves a *snapshot*: metric
families built from the warehouse's result tables (SQL in ``sql/exporters/metrics_*.sql``) and
rebuilt only when the warehouse changed (a new successful analysis run, a new load, a new collector
run). Between scrapes the snapshot is reused; the warehouse is checked at most every
``refresh_seconds``. When the warehouse cannot be read (another process holds it, the file is
missing), the previous snapshot keeps being served and ``spendscope_metrics_refresh_errors_total``
counts the failure: nothing a warehouse does can crash the metrics server.

Names follow the Prometheus conventions: base units in the name (``_seconds``, ``_ratio``), money as a
gauge with a ``currency`` label, ``_total`` for counters. Label cardinality is bounded: services beyond
the top ``top_services`` of each provider and account (by month-to-date cost) are summed as ``other``;
no label carries a resource id or a secret.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from pydantic import BaseModel, ConfigDict, Field

from spendscope import sql
from spendscope.errors import SpendscopeError

__all__ = [
    "METRIC_NAMES",
    "CostMetricsCollector",
    "MetricsSettings",
    "build_families",
    "fold_top_services",
    "series_count",
]

log = logging.getLogger(__name__)

OTHER = "other"
COST_LABELS = ["provider", "account", "service", "team", "environment", "currency"]
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class MetricsSettings(BaseModel):
    """The metrics exporter (section ``[metrics]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str = Field(default="127.0.0.1:9464", description="HOST:PORT of `spendscope metrics serve`")
    top_services: int = Field(
        default=20, ge=1, description="services kept per provider and account; the rest are summed as 'other'"
    )
    refresh_seconds: float = Field(
        default=30.0, ge=0, description="how often a scrape may check the warehouse for new results"
    )


# Every metric family the exporter can emit (name as exposed, without _total/_bucket suffixes), its
# type and help. Dashboards and alert rules are checked against this list.
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "spendscope_cost_hourly_rate": (
        "gauge",
        "Amortized cost per hour (EffectiveCost of the most recent complete day / 24), in currency units.",
    ),
    "spendscope_cost_month_to_date": (
        "gauge",
        "Amortized cost (EffectiveCost) of the current billing period so far, in currency units.",
    ),
    "spendscope_forecast_month_end": ("gauge", "Forecast month-end amortized cost (point), in currency units."),
    "spendscope_forecast_month_end_lower": ("gauge", "Lower bound of the month-end forecast interval."),
    "spendscope_forecast_month_end_upper": ("gauge", "Upper bound of the month-end forecast interval."),
    "spendscope_budget_amount": ("gauge", "Monthly budget amount, in currency units."),
    "spendscope_budget_burn_ratio": (
        "gauge",
        "Month-to-date spend divided by the linear pace of the budget (1 = on pace).",
    ),
    "spendscope_cost_per_transaction": (
        "gauge",
        "Cost per transaction of the most recent complete window, in currency units per transaction.",
    ),
    "spendscope_untagged_cost_ratio": (
        "gauge",
        "Share of taggable amortized cost missing required tags or carrying disallowed values (0-1).",
    ),
    "spendscope_orphan_monthly_waste": ("gauge", "Monthly cost of orphaned resources, in currency units."),
    "spendscope_orphan_resources": ("gauge", "Number of orphaned resources."),
    "spendscope_anomaly_active": ("gauge", "1 for each active (not ended) cost anomaly."),
    "spendscope_anomaly_impact": ("gauge", "Money impact of each active cost anomaly so far, in currency units."),
    "spendscope_collector_last_success_timestamp_seconds": (
        "gauge",
        "Unix time of the source's last successful collector run (loaded or unchanged).",
    ),
    "spendscope_collector_rows": ("counter", "Billing rows loaded by the source's collector runs."),
    "spendscope_collector_errors": ("counter", "Failed collector runs of the source."),
    "spendscope_billing_data_latest_timestamp_seconds": (
        "gauge",
        "Unix time of the newest ChargePeriodEnd in the source's billing data (data freshness).",
    ),
    "spendscope_ingest_duration_seconds": ("histogram", "Duration of successful loads of the source."),
    "spendscope_metrics_snapshot_timestamp_seconds": (
        "gauge",
        "Unix time the served metrics snapshot was built from the warehouse.",
    ),
    "spendscope_metrics_refresh_errors": ("counter", "Failed attempts to refresh the snapshot from the warehouse."),
}


def _f(value: Any) -> float:
    return float(value) if isinstance(value, Decimal | int | float) else 0.0


def fold_top_services(frame: pl.DataFrame, *, top: int) -> pl.DataFrame:
    """Keep the ``top`` services per provider and account (by month_to_date); sum the rest as 'other'.

    ``frame`` has COST_LABELS plus month_to_date and hourly_rate. Money is conserved per label set.
    """
    if frame.is_empty():
        return frame
    ranked = (
        frame.group_by(["provider", "account", "service"])
        .agg(pl.col("month_to_date").sum().alias("_service_total"))
        .with_columns(
            _rank=pl.col("_service_total")
            .rank("ordinal", descending=True)
            .over(["provider", "account"], order_by="service")
        )
    )
    return (
        frame.join(ranked, on=["provider", "account", "service"], how="left", nulls_equal=True)
        .with_columns(service=pl.when(pl.col("_rank") <= top).then(pl.col("service")).otherwise(pl.lit(OTHER)))
        .group_by(COST_LABELS)
        .agg(pl.col("month_to_date").sum(), pl.col("hourly_rate").sum())
        .sort(COST_LABELS, nulls_last=True)
    )


def _labels(row: dict[str, Any], names: Iterable[str]) -> list[str]:
    return ["" if row[n] is None else str(row[n]) for n in names]


def _query(conn: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
    return conn.execute(sql.load(f"exporters/{name}")).pl()


def build_families(conn: duckdb.DuckDBPyConnection, settings: MetricsSettings) -> list[Metric]:
    """Every metric family, read from the warehouse's stored results (one snapshot)."""
    families: list[Metric] = []
    families += _cost_families(_query(conn, "metrics_cost"), settings)
    families += _forecast_families(_query(conn, "metrics_forecast"))
    families += _budget_families(_query(conn, "metrics_budgets"))
    families += _unit_cost_families(_query(conn, "metrics_unit_cost"))
    families += _untagged_families(_query(conn, "metrics_untagged"))
    families += _orphan_families(_query(conn, "metrics_orphans"))
    families += _anomaly_families(_query(conn, "metrics_anomalies"))
    families += _collector_families(_query(conn, "metrics_collectors"), _query(conn, "metrics_ingest_durations"))
    return families


def _gauge(name: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, METRIC_NAMES[name][1], labels=labels)


def _cost_families(frame: pl.DataFrame, settings: MetricsSettings) -> list[Metric]:
    rate = _gauge("spendscope_cost_hourly_rate", COST_LABELS)
    mtd = _gauge("spendscope_cost_month_to_date", COST_LABELS)
    for row in fold_top_services(frame, top=settings.top_services).iter_rows(named=True):
        labels = _labels(row, COST_LABELS)
        rate.add_metric(labels, _f(row["hourly_rate"]))
        mtd.add_metric(labels, _f(row["month_to_date"]))
    return [rate, mtd]


def _forecast_families(frame: pl.DataFrame) -> list[Metric]:
    labels = ["scope", "name", "currency"]
    point = _gauge("spendscope_forecast_month_end", labels)
    lower = _gauge("spendscope_forecast_month_end_lower", [*labels, "interval"])
    upper = _gauge("spendscope_forecast_month_end_upper", [*labels, "interval"])
    for row in frame.iter_rows(named=True):
        base = _labels(row, labels)
        point.add_metric(base, _f(row["point"]))
        for level in ("80", "95"):
            lower.add_metric([*base, level], _f(row[f"lo{level}"]))
            upper.add_metric([*base, level], _f(row[f"hi{level}"]))
    return [point, lower, upper]


def _budget_families(frame: pl.DataFrame) -> list[Metric]:
    labels = ["budget", "scope", "scope_value", "currency"]
    amount = _gauge("spendscope_budget_amount", labels)
    burn = _gauge("spendscope_budget_burn_ratio", labels)
    for row in frame.iter_rows(named=True):
        values = [str(row["name"]), str(row["scope"]), str(row["scope_value"]), str(row["currency"])]
        amount.add_metric(values, _f(row["amount"]))
        if row["burn_ratio"] is not None:
            burn.add_metric(values, float(row["burn_ratio"]))
    return [amount, burn]


def _unit_cost_families(frame: pl.DataFrame) -> list[Metric]:
    family = _gauge("spendscope_cost_per_transaction", ["service", "window", "currency"])
    for row in frame.iter_rows(named=True):
        family.add_metric([row["service"], row["window_kind"], row["currency"] or ""], _f(row["cost_per_transaction"]))
    return [family]


def _untagged_families(frame: pl.DataFrame) -> list[Metric]:
    family = _gauge("spendscope_untagged_cost_ratio", ["account"])
    for row in frame.iter_rows(named=True):
        if row["ratio"] is not None:
            family.add_metric([str(row["account"])], float(row["ratio"]))
    return [family]


def _orphan_families(frame: pl.DataFrame) -> list[Metric]:
    labels = ["provider", "account", "kind", "currency"]
    waste = _gauge("spendscope_orphan_monthly_waste", labels)
    count = _gauge("spendscope_orphan_resources", labels)
    for row in frame.iter_rows(named=True):
        values = _labels(row, labels)
        waste.add_metric(values, _f(row["monthly_waste"]))
        count.add_metric(values, float(row["resources"]))
    return [waste, count]


def _anomaly_families(frame: pl.DataFrame) -> list[Metric]:
    labels = ["service", "account", "region", "team", "kind", "severity"]
    active = _gauge("spendscope_anomaly_active", labels)
    impact = _gauge("spendscope_anomaly_impact", [*labels, "currency"])
    for row in frame.iter_rows(named=True):
        values = _labels(row, labels)
        active.add_metric(values, 1.0)
        impact.add_metric([*values, str(row["currency"] or "")], _f(row["impact"]))
    return [active, impact]


def _collector_families(frame: pl.DataFrame, durations: pl.DataFrame) -> list[Metric]:
    last = _gauge("spendscope_collector_last_success_timestamp_seconds", ["source"])
    rows = CounterMetricFamily(
        "spendscope_collector_rows", METRIC_NAMES["spendscope_collector_rows"][1], labels=["source"]
    )
    errors = CounterMetricFamily(
        "spendscope_collector_errors", METRIC_NAMES["spendscope_collector_errors"][1], labels=["source"]
    )
    latest = _gauge("spendscope_billing_data_latest_timestamp_seconds", ["source"])
    for row in frame.iter_rows(named=True):
        source = [str(row["source"])]
        if row["last_success"] is not None:
            last.add_metric(source, float(row["last_success"]))
        rows.add_metric(source, float(row["rows_total"]))
        errors.add_metric(source, float(row["errors_total"]))
        if row["latest_data"] is not None:
            latest.add_metric(source, float(row["latest_data"]))
    hist = HistogramMetricFamily(
        "spendscope_ingest_duration_seconds", METRIC_NAMES["spendscope_ingest_duration_seconds"][1], labels=["source"]
    )
    for (source,), part in durations.group_by(["source"], maintain_order=True):
        secs = part["seconds"].cast(pl.Float64).to_list()
        buckets = [(str(b), float(sum(1 for s in secs if s <= b))) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", float(len(secs))))
        hist.add_metric([str(source)], buckets, sum_value=float(sum(secs)))
    return [last, rows, errors, latest, hist]


def series_count(families: Iterable[Metric]) -> dict[str, int]:
    """Samples per family name (what `spendscope metrics check` prints)."""
    return {f.name: len(f.samples) for f in families}


@dataclass(eq=False)  # identity-hashed: the registry keys collectors by object
class CostMetricsCollector:
    """A prometheus-client custom collector over warehouse snapshots.

    ``connect`` opens a (read-only) connection to the warehouse and ``release`` closes it; both run
    under a lock, at most every ``settings.refresh_seconds``. Register it on your own
    ``CollectorRegistry`` (never the global one).
    """

    connect: Callable[[], duckdb.DuckDBPyConnection]
    settings: MetricsSettings = field(default_factory=MetricsSettings)
    release: Callable[[duckdb.DuckDBPyConnection], None] = field(default=lambda conn: conn.close())
    clock: Callable[[], float] = time.time
    _families: list[Metric] = field(default_factory=list, init=False)
    _version: tuple[Any, ...] | None = field(default=None, init=False)
    _checked: float = field(default=float("-inf"), init=False)
    _built: float | None = field(default=None, init=False)
    _errors: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def describe(self) -> Iterator[Metric]:
        """The exporter's own families (so registering does not read the warehouse)."""
        yield from self._own()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            self._refresh()
            families = list(self._families)
        yield from families
        yield from self._own()

    def refresh_now(self) -> None:
        """Check the warehouse now, whatever refresh_seconds says (after an analysis run in-process)."""
        with self._lock:
            self._checked = float("-inf")
            self._refresh()

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._checked < self.settings.refresh_seconds:
            return
        self._checked = now
        try:
            conn = self.connect()
        except (SpendscopeError, duckdb.Error) as exc:
            self._failed(exc)
            return
        try:
            version = conn.execute(sql.load("exporters/metrics_version")).fetchone()
            if version != self._version or self._built is None:
                self._families = build_families(conn, self.settings)
                self._version = version
                self._built = now
                log.info(
                    "metrics snapshot rebuilt version=%s series=%d", version, sum(series_count(self._families).values())
                )
        except (SpendscopeError, duckdb.Error) as exc:
            self._failed(exc)
        finally:
            self.release(conn)

    def _failed(self, exc: Exception) -> None:
        self._errors += 1
        log.warning("metrics refresh failed (serving the previous snapshot): %s", str(exc).splitlines()[0])

    def _own(self) -> Iterator[Metric]:
        built = _gauge("spendscope_metrics_snapshot_timestamp_seconds", [])
        if self._built is not None:
            built.add_metric([], self._built)
        yield built
        errors = CounterMetricFamily(
            "spendscope_metrics_refresh_errors", METRIC_NAMES["spendscope_metrics_refresh_errors"][1], labels=[]
        )
        errors.add_metric([], float(self._errors))
        yield errors
