"""Orphaned resources: things still billed that nothing uses, with their monthly cost.

``find_orphans`` reads the latest observation of each resource (``sql/analysis/orphans_inventory.sql``;
a resource missing from its source's latest observation is gone and never an orphan), applies the
pure ``classify_orphans`` rules, and prices each orphan with ``price_orphans``:

- ``unattached_disk``: AWS ebs_volume ``available``, Azure managed_disk / GCP gce_disk ``unattached``;
- ``unassociated_ip``: AWS elastic_ip / Azure public_ip ``unassociated``, GCP gce_address ``reserved``;
- ``orphaned_snapshot``: a snapshot whose source volume/disk no longer exists, at least
  ``min_age_days`` old (by created_at; unknown age is not flagged);
- ``idle_load_balancer``: an AWS load_balancer with no registered targets;
- ``stopped_instance``: ec2_instance ``stopped``, Azure virtual_machine ``deallocated``/``stopped``,
  gce_instance ``terminated``, idle (since last_used_at) at least ``stopped_days``, with disks attached.

Cost (``cost_source`` ``bill``) is the EffectiveCost of the last full billing period before ``now``,
joined on ResourceId ignoring case, per BillingCurrency; a stopped instance's cost includes its
attached disks. Without a bill row the cost is a list-price estimate (``cost_source``
``list_price_estimate``, USD) from ``PRICE_TABLE``; ``none`` when even that is unknown (no size).
The fingerprint, sha256 of ``provider|account_id|resource_id|orphan_kind``, is stable across runs.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import duckdb
import polars as pl

from spendscope import sql
from spendscope.warehouse import analysis_runs
from spendscope.warehouse.db import transaction

__all__ = [
    "HOURS_PER_MONTH",
    "ORPHAN_COLUMNS",
    "PRICE_TABLE",
    "OrphanKind",
    "classify_orphans",
    "find_orphans",
    "fingerprint",
    "last_full_period",
    "price_orphans",
    "run_orphans",
]

log = logging.getLogger(__name__)

OrphanKind = Literal[
    "unattached_disk", "unassociated_ip", "orphaned_snapshot", "idle_load_balancer", "stopped_instance"
]
MONEY = pl.Decimal(38, 12)
HOURS_PER_MONTH = Decimal(730)

# Illustrative USD list prices (rounded public on-demand prices of a common region and tier, e.g. AWS
# gp3 / us-east-1, Azure Standard SSD, GCP pd-balanced), NOT a price list: they only rank orphans the
# bill does not cover. (provider, kind) → (unit, USD per unit); "GiB-month" is multiplied by the size
# in GiB (a stopped instance: its attached disks' sizes), "hour" by HOURS_PER_MONTH.
PRICE_TABLE: dict[tuple[str, str], tuple[Literal["GiB-month", "hour"], Decimal]] = {
    ("aws", "unattached_disk"): ("GiB-month", Decimal("0.08")),
    ("azure", "unattached_disk"): ("GiB-month", Decimal("0.075")),
    ("gcp", "unattached_disk"): ("GiB-month", Decimal("0.10")),
    ("aws", "stopped_instance"): ("GiB-month", Decimal("0.08")),
    ("azure", "stopped_instance"): ("GiB-month", Decimal("0.075")),
    ("gcp", "stopped_instance"): ("GiB-month", Decimal("0.10")),
    ("aws", "orphaned_snapshot"): ("GiB-month", Decimal("0.05")),
    ("azure", "orphaned_snapshot"): ("GiB-month", Decimal("0.05")),
    ("gcp", "orphaned_snapshot"): ("GiB-month", Decimal("0.05")),
    ("aws", "unassociated_ip"): ("hour", Decimal("0.005")),
    ("azure", "unassociated_ip"): ("hour", Decimal("0.005")),
    ("gcp", "unassociated_ip"): ("hour", Decimal("0.01")),
    ("aws", "idle_load_balancer"): ("hour", Decimal("0.0225")),
}
ESTIMATE_CURRENCY = "USD"

ORPHAN_COLUMNS = [
    "fingerprint",
    "orphan_kind",
    "provider",
    "account_id",
    "region",
    "resource_id",
    "resource_type",
    "state",
    "size",
    "size_unit",
    "created_at",
    "last_used_at",
    "age_days",
    "idle_days",
    "team",
    "owner",
    "monthly_cost",
    "currency",
    "cost_source",
    "severity",
    "source",
    "observed_at",
]
"""Columns of ``find_orphans``: one row per orphan and currency (one currency in practice)."""

_FRAME = "orphan_frame"


def fingerprint(provider: str, account_id: str | None, resource_id: str, kind: str) -> str:
    """sha256 hex of ``provider|account_id|resource_id|kind`` (account_id None → empty)."""
    return hashlib.sha256(f"{provider}|{account_id or ''}|{resource_id}|{kind}".encode()).hexdigest()


def _fingerprints(parts: pl.Series) -> pl.Series:
    # One hash per orphan (not per billing row); Polars has no stable sha256 expression.
    return pl.Series([fingerprint(*p.values()) for p in parts.to_list()], dtype=pl.String)


def last_full_period(now: datetime) -> datetime:
    """First instant (UTC) of the calendar month before ``now``'s."""
    now = now.astimezone(UTC)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return datetime(year, month, 1, tzinfo=UTC)


def classify_orphans(latest: pl.LazyFrame, *, min_age_days: int = 7, stopped_days: int = 30) -> pl.LazyFrame:
    """Rows of ``latest`` (columns of orphans_inventory.sql) that are orphans, with ``orphan_kind``."""
    provider, rtype, state = pl.col("provider"), pl.col("resource_type"), pl.col("state")

    def kind_of(pairs: list[tuple[str, str, tuple[str, ...]]]) -> pl.Expr:
        out = pl.lit(False)
        for p, t, states in pairs:
            out = out | ((provider == p) & (rtype == t) & state.is_in(list(states)))
        return out.fill_null(False)

    disk = kind_of(
        [
            ("aws", "ebs_volume", ("available",)),
            ("azure", "managed_disk", ("unattached",)),
            ("gcp", "gce_disk", ("unattached",)),
        ]
    )
    ip = kind_of(
        [
            ("aws", "elastic_ip", ("unassociated",)),
            ("azure", "public_ip", ("unassociated",)),
            ("gcp", "gce_address", ("reserved",)),
        ]
    )
    snapshot_types = ["ebs_snapshot", "disk_snapshot", "gce_snapshot"]
    snapshot = (
        rtype.is_in(snapshot_types) & (pl.col("source_exists") == False) & (pl.col("age_days") >= min_age_days)  # noqa: E712
    ).fill_null(False)
    balancer = ((rtype == "load_balancer") & (pl.col("registered_targets") == 0)).fill_null(False)
    stopped = kind_of(
        [
            ("aws", "ec2_instance", ("stopped",)),
            ("azure", "virtual_machine", ("deallocated", "stopped")),
            ("gcp", "gce_instance", ("terminated",)),
        ]
    )
    instance = (stopped & (pl.col("idle_days") >= stopped_days) & (pl.col("attached_disks").list.len() > 0)).fill_null(
        False
    )
    kind = (
        pl.when(disk)
        .then(pl.lit("unattached_disk"))
        .when(ip)
        .then(pl.lit("unassociated_ip"))
        .when(snapshot)
        .then(pl.lit("orphaned_snapshot"))
        .when(balancer)
        .then(pl.lit("idle_load_balancer"))
        .when(instance)
        .then(pl.lit("stopped_instance"))
    )
    return latest.with_columns(orphan_kind=kind).filter(pl.col("orphan_kind").is_not_null())


def _price_frame() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "provider": [p for p, _ in PRICE_TABLE],
            "orphan_kind": [k for _, k in PRICE_TABLE],
            "price_unit": [u for u, _ in PRICE_TABLE.values()],
            "unit_price": [v for _, v in PRICE_TABLE.values()],
        },
        schema_overrides={"unit_price": MONEY},
    )


def price_orphans(orphans: pl.LazyFrame, latest: pl.LazyFrame, costs: pl.LazyFrame) -> pl.LazyFrame:
    """Add monthly_cost, currency, cost_source, severity and fingerprint; select ORPHAN_COLUMNS.

    ``latest`` (every current resource) gives a stopped instance's disk sizes; ``costs`` has
    resource_key (lower-cased ResourceId), currency and EffectiveCost of one billing period.
    """
    keyed = orphans.with_columns(
        fingerprint=pl.struct("provider", "account_id", "resource_id", "orphan_kind").map_batches(
            _fingerprints, return_dtype=pl.String
        ),
        cost_keys=pl.concat_list(
            pl.col("resource_id"),
            pl.when(pl.col("orphan_kind") == "stopped_instance")
            .then(pl.col("attached_disks"))
            .otherwise(pl.lit([], pl.List(pl.String))),
        ).list.eval(pl.element().str.to_lowercase()),
    )
    members = keyed.select("fingerprint", "provider", "account_id", resource_key=pl.col("cost_keys")).explode(
        "resource_key"
    )
    billed = (
        members.join(costs, on="resource_key", how="inner")
        .group_by(["fingerprint", "currency"])
        .agg(pl.col("EffectiveCost").sum().cast(MONEY).alias("monthly_cost"))
        .with_columns(cost_source=pl.lit("bill"))
    )
    sizes = latest.select(
        "provider", "account_id", resource_key=pl.col("resource_id").str.to_lowercase(), disk_size=pl.col("size")
    ).unique(["provider", "account_id", "resource_key"])
    disk_size = (
        members.join(sizes, on=["provider", "account_id", "resource_key"], how="inner")
        .group_by("fingerprint")
        .agg(pl.col("disk_size").sum())
    )
    estimated = (
        keyed.join(disk_size, on="fingerprint", how="left")
        .join(_price_frame(), on=["provider", "orphan_kind"], how="left")
        .with_columns(
            quantity=pl.when(pl.col("price_unit") == "hour")
            .then(pl.lit(HOURS_PER_MONTH).cast(pl.Decimal(38, 6)))
            .when(pl.col("orphan_kind") == "stopped_instance")
            .then(pl.col("disk_size"))
            .when(pl.col("size_unit") == "GiB")
            .then(pl.col("size"))
        )
        .select(
            "fingerprint",
            monthly_cost=(pl.col("quantity") * pl.col("unit_price")).cast(MONEY),
            currency=pl.lit(ESTIMATE_CURRENCY),
        )
        .with_columns(
            cost_source=pl.when(pl.col("monthly_cost").is_not_null())
            .then(pl.lit("list_price_estimate"))
            .otherwise(pl.lit("none")),
            currency=pl.when(pl.col("monthly_cost").is_not_null()).then(pl.col("currency")),
        )
        .join(billed.select("fingerprint"), on="fingerprint", how="anti")
    )
    cost = pl.col("monthly_cost")
    cols = ["fingerprint", "monthly_cost", "currency", "cost_source"]
    return (
        keyed.join(
            pl.concat([billed.select(cols), estimated.select(cols)], how="vertical"), on="fingerprint", how="left"
        )
        .with_columns(
            severity=pl.when(cost >= 100)
            .then(pl.lit("high"))
            .when(cost >= 10)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
        )
        .select(ORPHAN_COLUMNS)
        .sort(["provider", "account_id", "orphan_kind", "resource_id", "currency"], nulls_last=True)
    )


def find_orphans(
    conn: duckdb.DuckDBPyConnection, *, now: datetime, min_age_days: int = 7, stopped_days: int = 30
) -> pl.DataFrame:
    """Orphans in the latest inventory observed at or before ``now`` (tz-aware), priced (ORPHAN_COLUMNS).

    Read-only. Severity: monthly_cost ≥ 100 high, ≥ 10 medium, else low (in the row's currency).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    latest = conn.execute(
        sql.load("analysis/orphans_inventory"), {"now": now, "team_key": "team", "owner_key": "owner"}
    ).pl()
    orphans = classify_orphans(latest.lazy(), min_age_days=min_age_days, stopped_days=stopped_days).collect()
    keys = orphans.select(
        pl.concat_list(pl.col("resource_id"), pl.col("attached_disks").fill_null([]))
        .list.eval(pl.element().str.to_lowercase())
        .explode()
        .unique()
    )
    costs = conn.execute(
        sql.load("analysis/orphans_costs"),
        {"period_start": last_full_period(now), "resource_keys": keys.to_series().drop_nulls().to_list()},
    ).pl()
    return price_orphans(orphans.lazy(), latest.lazy(), costs.lazy()).collect()


def run_orphans(
    conn: duckdb.DuckDBPyConnection, *, now: datetime, min_age_days: int = 7, stopped_days: int = 30
) -> int:
    """Find orphans and replace every ``orphan`` finding with them, in one transaction, under one run.

    first_seen is kept for fingerprints found before; last_seen is ``now``. Returns the number of
    findings written. A failed run leaves the previous findings and is recorded as failed.
    """
    with analysis_runs.recorded_run(conn) as run_id:
        frame = find_orphans(conn, now=now, min_age_days=min_age_days, stopped_days=stopped_days)
        conn.register(_FRAME, frame.to_arrow())
        try:
            with transaction(conn):
                conn.execute(sql.load("analysis/orphans_findings_replace"), {"run_id": run_id, "now": now})
                conn.execute(sql.load("analysis/orphans_findings_delete"), {"run_id": run_id})
        finally:
            conn.unregister(_FRAME)
    log.info("orphans run_id=%d findings=%d", run_id, frame.height)
    return frame.height
