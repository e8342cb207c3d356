"""Orphaned resources: a hand-written inventory and bill, expected costs and estimates computed by hand."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from spendscope.analysis.orphans import find_orphans, last_full_period, run_orphans
from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.focus import FocusFiles
from spendscope.pipeline import ingest
from spendscope.warehouse.inventory import load_inventory

from ..conftest import rows, write_csv

D = Decimal
NOW = datetime(2026, 11, 15, tzinfo=UTC)  # last full billing period: October 2026
OLD = datetime(2026, 11, 1, tzinfo=UTC)
LATEST = datetime(2026, 11, 14, tzinfo=UTC)
AZ_DISK = "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Compute/disks/D1"
GCP = "//compute.googleapis.com/projects/p1"


def _t(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T00:00:00+00:00")


def _res(
    rid: str,
    rtype: str,
    state: str | None,
    *,
    provider: str = "aws",
    account: str = "111",
    size: int | None = None,
    created: str | None = "2026-01-01",
    last_used: str | None = None,
    tags: dict[str, str] | None = None,
    **details: Any,
) -> dict[str, Any]:
    return {
        "provider": provider,
        "account_id": account,
        "region": "r1",
        "resource_id": rid,
        "resource_type": rtype,
        "state": state,
        "attached_to": None,
        "created_at": _t(created) if created else None,
        "last_used_at": _t(last_used) if last_used else None,
        "size": None if size is None else D(size),
        "size_unit": None if size is None else "GiB",
        "tags": json.dumps(tags or {}),
        "details": json.dumps(details),
    }


def _load_inv(wh: duckdb.DuckDBPyConnection, source: str, at: datetime, data: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist([{**r, "observed_at": at} for r in data], schema=OUTPUT_SCHEMA)
    load_inventory(wh, table, source=source)


AWS_LATEST = [
    _res("vol-a", "ebs_volume", "available", size=100, tags={"Team": "payments", "Owner": "alice"}),  # detached now
    _res("vol-b", "ebs_volume", "in-use", size=10),  # attached now (was available): not an orphan
    _res("eipalloc-1", "elastic_ip", "unassociated"),
    _res("eipalloc-2", "elastic_ip", "associated"),
    _res("snap-old", "ebs_snapshot", "completed", size=50, created="2026-10-01", source_volume_exists=False),  # 45 d
    _res("snap-young", "ebs_snapshot", "completed", size=50, created="2026-11-12", source_volume_exists=False),  # 3 d
    _res("snap-ok", "ebs_snapshot", "completed", size=50, source_volume_exists=True),
    _res("arn:lb-idle", "load_balancer", "active", registered_targets=0),
    _res("arn:lb-busy", "load_balancer", "active", registered_targets=2),
    _res("i-stopped", "ec2_instance", "stopped", last_used="2026-09-01", attached_volumes=["vol-root"]),  # 75 d
    _res("vol-root", "ebs_volume", "in-use", size=20),
    _res("i-stopped2", "ec2_instance", "stopped", last_used="2026-09-01", attached_volumes=["vol-root2"]),
    _res("vol-root2", "ebs_volume", "in-use", size=30),
    _res("i-recent", "ec2_instance", "stopped", last_used="2026-11-01", attached_volumes=["vol-x"]),  # 14 d
    _res("i-nodisk", "ec2_instance", "stopped", last_used="2026-09-01", attached_volumes=[]),
]
AWS_OLD = [
    _res("vol-a", "ebs_volume", "in-use", size=100),  # attached before
    _res("vol-b", "ebs_volume", "available", size=10),  # detached before
    _res("vol-gone", "ebs_volume", "available", size=500),  # absent from the latest observation: deleted
]
AZURE = [
    _res(AZ_DISK, "managed_disk", "unattached", provider="azure", account="s1", size=128),
    _res("pip-1", "public_ip", "unassociated", provider="azure", account="s1"),
    _res(
        "vm-1",
        "virtual_machine",
        "deallocated",
        provider="azure",
        account="s1",
        last_used="2026-10-01",
        attached_disks=["d2"],
    ),
    _res("d2", "managed_disk", "attached", provider="azure", account="s1", size=64),
]
GCP_LATEST = [
    _res(f"{GCP}/zones/z/disks/g1", "gce_disk", "unattached", provider="gcp", account="p1", size=200),
    _res(f"{GCP}/regions/r/addresses/a1", "gce_address", "reserved", provider="gcp", account="p1"),
    _res(f"{GCP}/zones/z/addresses/a2", "gce_address", "in_use", provider="gcp", account="p1"),
    _res(
        f"{GCP}/global/snapshots/s1",
        "gce_snapshot",
        "ready",
        provider="gcp",
        account="p1",
        size=10,
        created="2026-10-20",
        source_disk_exists=False,
    ),
]


def _bill(rid: str, cost: str, *, month: int = 10, **over: Any) -> dict[str, Any]:
    row = rows(
        1,
        ResourceId=rid,
        BilledCost=cost,
        EffectiveCost=cost,
        BillingPeriodStart=f"2026-{month:02d}-01T00:00:00Z",
        BillingPeriodEnd=f"2026-{month + 1:02d}-01T00:00:00Z",
        ChargePeriodStart=f"2026-{month:02d}-05T00:00:00Z",
        ChargePeriodEnd=f"2026-{month:02d}-05T01:00:00Z",
    )[0]
    row.update(over)
    return row


BILL = [
    _bill("VOL-A", "8.00"),  # ResourceId case differs from the inventory
    _bill("vol-a", "0.50"),
    _bill("vol-a", "100.00", month=11),  # November is not a full period yet: ignored
    _bill("vol-root", "1.60"),  # i-stopped's disk
    _bill(AZ_DISK.lower(), "9.60", BillingCurrency="EUR", PricingCurrency="EUR"),  # Cost Management lower-cases ids
    _bill(f"{GCP}/regions/r/addresses/a1", "7.30"),
]


def _setup(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _load_inv(wh, "aws", OLD, AWS_OLD)
    _load_inv(wh, "aws", LATEST, AWS_LATEST)
    _load_inv(wh, "azure", LATEST, AZURE)
    _load_inv(wh, "gcp", LATEST, GCP_LATEST)
    ingest(wh, FocusFiles([str(write_csv(tmp_path / "bill.csv", BILL))], source="bill"))


def test_orphans_costs_and_estimates(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _setup(wh, tmp_path)
    frame = find_orphans(wh, now=NOW)
    got = {
        r["resource_id"]: (r["orphan_kind"], r["monthly_cost"].normalize(), r["currency"], r["cost_source"])
        for r in frame.iter_rows(named=True)
    }
    assert got == {
        # AWS
        "vol-a": ("unattached_disk", D("8.5"), "USD", "bill"),  # October 8.00 + 0.50
        "eipalloc-1": ("unassociated_ip", D("3.65"), "USD", "list_price_estimate"),  # 0.005/h × 730
        "snap-old": ("orphaned_snapshot", D("2.5"), "USD", "list_price_estimate"),  # 50 GiB × 0.05
        "arn:lb-idle": ("idle_load_balancer", D("16.425"), "USD", "list_price_estimate"),  # 0.0225/h × 730
        "i-stopped": ("stopped_instance", D("1.6"), "USD", "bill"),  # its disk vol-root billed 1.60
        "i-stopped2": ("stopped_instance", D("2.4"), "USD", "list_price_estimate"),  # vol-root2 30 GiB × 0.08
        # Azure
        AZ_DISK: ("unattached_disk", D("9.6"), "EUR", "bill"),  # joined ignoring case
        "pip-1": ("unassociated_ip", D("3.65"), "USD", "list_price_estimate"),  # 0.005/h × 730
        "vm-1": ("stopped_instance", D("4.8"), "USD", "list_price_estimate"),  # d2 64 GiB × 0.075
        # GCP
        f"{GCP}/zones/z/disks/g1": ("unattached_disk", D("20"), "USD", "list_price_estimate"),  # 200 GiB × 0.10
        f"{GCP}/regions/r/addresses/a1": ("unassociated_ip", D("7.3"), "USD", "bill"),
        f"{GCP}/global/snapshots/s1": ("orphaned_snapshot", D("0.5"), "USD", "list_price_estimate"),  # 10 × 0.05
    }
    vol_a = frame.filter(frame["resource_id"] == "vol-a").row(0, named=True)
    assert (vol_a["team"], vol_a["owner"], vol_a["age_days"]) == ("payments", "alice", 318)  # 2026-01-01 → 11-15
    assert vol_a["fingerprint"] == hashlib.sha256(b"aws|111|vol-a|unattached_disk").hexdigest()
    severities = dict(zip(frame["resource_id"], frame["severity"], strict=True))
    assert severities["arn:lb-idle"] == "medium" and severities["vol-a"] == "low"  # 16.425 ≥ 10; 8.50 < 10


def test_run_orphans_replaces_findings_with_stable_fingerprints(wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    _setup(wh, tmp_path)
    assert run_orphans(wh, now=NOW) == 12
    first = dict(wh.execute("SELECT resource_id, fingerprint FROM findings WHERE kind = 'orphan'").fetchall())
    later = datetime(2026, 11, 16, tzinfo=UTC)
    assert run_orphans(wh, now=later) == 12
    second = wh.execute(
        "SELECT resource_id, fingerprint, first_seen, last_seen, run_id FROM findings WHERE kind = 'orphan'"
    ).fetchall()
    assert len(second) == 12  # replaced, not duplicated
    assert {r[0]: r[1] for r in second} == first
    assert {(r[2], r[3]) for r in second} == {(NOW, later)}  # first_seen kept from the first run
    assert len({r[4] for r in second}) == 1

    # vol-a is attached again in a newer observation: its finding goes away.
    _load_inv(
        wh,
        "aws",
        datetime(2026, 11, 16, 12, tzinfo=UTC),
        [{**r, "state": "in-use"} if r["resource_id"] == "vol-a" else r for r in AWS_LATEST],
    )
    assert run_orphans(wh, now=datetime(2026, 11, 17, tzinfo=UTC)) == 11
    ids = {r[0] for r in wh.execute("SELECT resource_id FROM findings WHERE kind = 'orphan'").fetchall()}
    assert "vol-a" not in ids and len(ids) == 11
    dims = wh.execute(
        "SELECT dimensions->>'orphan_kind', details->>'cost_source' FROM findings WHERE resource_id = 'pip-1'"
    ).fetchone()
    assert dims == ("unassociated_ip", "list_price_estimate")
    statuses = wh.execute("SELECT DISTINCT status FROM analysis_runs").fetchall()
    assert statuses == [("succeeded",)]


def test_last_full_period() -> None:
    assert last_full_period(NOW) == datetime(2026, 10, 1, tzinfo=UTC)
    assert last_full_period(datetime(2027, 1, 3, tzinfo=UTC)) == datetime(2026, 12, 1, tzinfo=UTC)
