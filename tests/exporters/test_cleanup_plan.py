"""Cleanup plans: owners, protections, actions and order by hand; the schema; every refusal.

Inventories are written by hand and go through the real run_orphans (no bill: list-price
estimates, USD). Expected figures are computed in comments; signatures of hand-edited plans are
recomputed here with hmac over the key read by this test's own SQL, not with spendscope's code.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jsonschema  # type: ignore[import-untyped]
import polars as pl
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from spendscope.analysis.allocation import AllocationRules, ResourceRule, RuleSet
from spendscope.analysis.orphans import run_orphans
from spendscope.cli import app
from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.errors import BadData, PlanRefused
from spendscope.exporters.cleanup.plan import CANDIDATE_COLUMNS, build_plan, classify_candidates
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.cleanup.verify import approve_plan, plan_schema, verify_plan, write_plan_file
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.inventory import load_inventory

D = Decimal
NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
SETTINGS = CleanupSettings(
    protected_tags=["do-not-delete", "lifecycle=keep"],
    protected_accounts=["222"],
    grace_days=14,
    snapshot_max_age_days=90,
    plan_max_age_hours=24,
)


# ------------------------------------------------------------------ classify_candidates (pure)


def cand(rid: str, kind: str, *, cost: str | None = "1", currency: str | None = "USD", **over: Any) -> dict[str, Any]:
    tags = over.pop("tags", {})
    row = {
        "fingerprint": hashlib.sha256(rid.encode()).hexdigest(),
        "run_id": 1,
        "provider": "aws",
        "account_id": "111",
        "region": "us-east-1",
        "resource_id": rid,
        "resource_type": "ebs_volume",
        "kind": kind,
        "owner_tag": None,
        "team_tag": None,
        "state": "available",
        "created_age_days": 30,
        "cost_source": "list_price_estimate",
        "monthly_cost": None if cost is None else D(cost),
        "currency": currency if cost is not None else None,
        "first_seen": NOW - timedelta(days=1),
        "tags_json": json.dumps(tags),
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    row.update(over)
    return row


CANDIDATES = [
    cand("vol-owner", "unattached_disk", cost="8", owner_tag="alice", team_tag="web"),
    cand("eip-team", "unassociated_ip", cost="3.65", team_tag="web", created_age_days=None,
         first_seen=NOW - timedelta(days=40, hours=1)),  # age 40 by first_seen
    cand("vol-acct", "unattached_disk", cost="50", account_id="222"),
    cand("vol-dnd", "unattached_disk", cost="40", tags={"Do-Not-Delete": ""}),  # key matched ignoring case
    cand("vol-temp", "unattached_disk", cost="2", tags={"lifecycle": "temporary"}),  # not keep: not protected
    cand("vol-keep", "unattached_disk", cost="2", tags={"Lifecycle": "keep"}),
    cand("vol-new", "unattached_disk", cost="30", created_age_days=3),  # within 14 grace days
    cand("eip-new", "unassociated_ip", cost="3.65", created_age_days=None, first_seen=NOW - timedelta(days=2)),
    cand("snap-young", "orphaned_snapshot", cost="2.5", created_age_days=30),  # < 90
    cand("snap-old", "orphaned_snapshot", cost="2.5", created_age_days=120),
    cand("vol-mapped", "unattached_disk", cost="0.8", account_id="333"),
    cand("lb-data-1", "idle_load_balancer", cost="16.425", account_id="444"),
    cand("vol-nobody", "unattached_disk", cost="0.8", account_id="444"),
    cand("i-stopped", "stopped_instance", cost="1.6", owner_tag="bob"),
    cand("vol-eur", "unattached_disk", cost="5", currency="EUR", owner_tag="carol"),
    cand("vol-unpriced", "unattached_disk", cost=None, owner_tag="carol"),
]  # fmt: skip
ALLOCATION = AllocationRules(
    rule_sets=[
        RuleSet(
            account_teams={"333": "payments"},
            resource_rules=[ResourceRule(field="ResourceId", pattern="^lb-data", team="data")],
        )
    ]
)


def classified() -> pl.DataFrame:
    frame = pl.DataFrame(CANDIDATES).select(CANDIDATE_COLUMNS)
    return classify_candidates(frame.lazy(), SETTINGS, now=NOW, allocation=ALLOCATION).collect()


def test_owner_protection_and_action_per_candidate() -> None:
    got = {r["resource_id"]: r for r in classified().to_dicts()}
    expected = {  # resource: (owner, owner_source, group_key, action, protection, age_days)
        "vol-owner": ("alice", "tag:owner", "owner:alice", "snapshot_then_delete_volume", None, 30),
        "eip-team": ("web", "tag:team", "owner:web", "release_address", None, 40),
        "vol-acct": (None, None, "account:aws:222", "snapshot_then_delete_volume", "account", 30),
        "vol-dnd": (None, None, "account:aws:111", "snapshot_then_delete_volume", "tag", 30),
        "vol-temp": (None, None, "account:aws:111", "snapshot_then_delete_volume", None, 30),
        "vol-keep": (None, None, "account:aws:111", "snapshot_then_delete_volume", "tag", 30),
        "vol-new": (None, None, "account:aws:111", "snapshot_then_delete_volume", "grace_period", 3),
        "eip-new": (None, None, "account:aws:111", "release_address", "grace_period", 2),
        "snap-young": (None, None, "account:aws:111", "delete_snapshot", "snapshot_age", 30),
        "snap-old": (None, None, "account:aws:111", "delete_snapshot", None, 120),
        "vol-mapped": ("payments", "allocation:account", "owner:payments", "snapshot_then_delete_volume", None, 30),
        "lb-data-1": ("data", "allocation:resource_rule", "owner:data", "delete_load_balancer", None, 30),
        "vol-nobody": (None, None, "account:aws:444", "snapshot_then_delete_volume", None, 30),
        "i-stopped": ("bob", "tag:owner", "owner:bob", "none", None, 30),
        "vol-eur": ("carol", "tag:owner", "owner:carol", "snapshot_then_delete_volume", None, 30),
        "vol-unpriced": ("carol", "tag:owner", "owner:carol", "snapshot_then_delete_volume", None, 30),
    }
    assert {
        r: (g["owner"], g["owner_source"], g["group_key"], g["action"], g["protection"], g["age_days"])
        for r, g in got.items()
    } == expected
    assert got["eip-team"]["age_basis"] == "first_seen" and got["vol-owner"]["age_basis"] == "created_at"
    assert got["vol-dnd"]["reason"].startswith("protected: tagged do-not-delete (protected_tags)")
    assert got["vol-acct"]["reason"].startswith("protected: account 222 is in protected_accounts")
    assert "within grace_days = 14" in got["vol-new"]["reason"]
    assert "younger than snapshot_max_age_days = 90" in got["snap-young"]["reason"]


def test_items_are_ordered_by_currency_then_waste() -> None:
    items = classified().filter(pl.col("protection").is_null())
    # EUR before USD; in USD 16.425 > 8 > 3.65 > 2.5 > 2 > 1.6 > 0.8 = 0.8 (then by account: 333 < 444); unpriced last.
    assert items.get_column("resource_id").to_list() == [
        "vol-eur",
        "lb-data-1",
        "vol-owner",
        "eip-team",
        "snap-old",
        "vol-temp",
        "i-stopped",
        "vol-mapped",
        "vol-nobody",
        "vol-unpriced",
    ]


# ------------------------------------------------------------------ plans from the warehouse


def res(
    rid: str,
    rtype: str,
    state: str,
    *,
    size: int | None = None,
    created: datetime | None = None,
    tags: dict[str, str] | None = None,
    account: str = "111",
    **details: Any,
) -> dict[str, Any]:
    return {
        "provider": "aws",
        "account_id": account,
        "region": "us-east-1",
        "resource_id": rid,
        "resource_type": rtype,
        "state": state,
        "attached_to": None,
        "created_at": created or datetime(2026, 1, 1, tzinfo=UTC),
        "last_used_at": None,
        "size": None if size is None else D(size),
        "size_unit": None if size is None else "GiB",
        "tags": json.dumps(tags or {}),
        "details": json.dumps(details),
        "observed_at": NOW - timedelta(hours=1),
    }


INVENTORY = [
    res("vol-a", "ebs_volume", "available", size=100, tags={"owner": "alice"}),  # 100 × 0.08 = 8.00 USD
    res("vol-b", "ebs_volume", "available", size=50, tags={"team": "web"}),  # 50 × 0.08 = 4.00
    res("eipalloc-1", "elastic_ip", "unassociated", tags={"owner": "alice"}),  # 730 × 0.005 = 3.65
    res("vol-dnd", "ebs_volume", "available", size=500, tags={"do-not-delete": "true"}),  # 40.00, protected
    res("i-1", "ec2_instance", "running"),  # in use: no orphan
]


@pytest.fixture
def stocked(wh: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    load_inventory(wh, pa.Table.from_pylist(INVENTORY, schema=OUTPUT_SCHEMA), source="aws")
    assert run_orphans(wh, now=NOW) == 4
    return wh


def plan_key(conn: duckdb.DuckDBPyConnection) -> bytes:
    return bytes.fromhex(conn.execute("SELECT plan_key FROM warehouse_identity").fetchall()[0][0])


def resign(plan: dict[str, Any], key: bytes) -> dict[str, Any]:
    """The plan signature computed here: HMAC-SHA256 over sorted, compact JSON without signature/approvals."""
    body = {k: v for k, v in plan.items() if k not in ("signature", "approvals")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return {**plan, "signature": {"algorithm": "hmac-sha256", "value": hmac.new(key, text, hashlib.sha256).hexdigest()}}


def verify(conn: duckdb.DuckDBPyConnection, plan: dict[str, Any], **kw: Any) -> Any:
    return verify_plan(conn, plan, kw.pop("settings", SETTINGS), now=kw.pop("now", NOW), source="plan.json")


def test_plan_lists_items_protected_and_totals(stocked: duckdb.DuckDBPyConnection) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    jsonschema.Draft202012Validator(plan_schema()).validate(plan)
    assert [i["resource_id"] for i in plan["items"]] == ["vol-a", "vol-b", "eipalloc-1"]
    assert [(p["resource_id"], p["protection"]) for p in plan["protected"]] == [("vol-dnd", "tag")]
    a = plan["items"][0]
    assert (a["monthly_waste"], a["currency"], a["owner"], a["action"]) == (
        "8",
        "USD",
        "alice",
        "snapshot_then_delete_volume",
    )
    assert a["tags"] == {"owner": "alice"} and a["age_days"] == 318  # 2026-01-01 → 2026-11-15 12:00
    assert plan["totals"] == [{"currency": "USD", "monthly_waste": "15.65", "items": 3}]  # 8 + 4 + 3.65
    assert plan["findings_run_id"] == stocked.execute("SELECT max(run_id) FROM findings").fetchall()[0][0]
    assert plan["created_at"] == "2026-11-15T12:00:00.000000Z" and plan["approvals"] == []
    assert plan["signature"]["value"] == resign(plan, plan_key(stocked))["signature"]["value"]
    assert verify(stocked, plan).plan_id == plan["plan_id"]
    assert stocked.execute("SELECT event, reason FROM cleanup_audit").fetchall() == [
        ("plan_created", "3 items, 1 protected")
    ]


def test_edited_plans_are_refused(stocked: duckdb.DuckDBPyConnection) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    cheaper = copy.deepcopy(plan)
    cheaper["items"][0]["monthly_waste"] = "0.01"
    with pytest.raises(PlanRefused, match=r"^plan\.json: signature does not match"):
        verify(stocked, cheaper)
    smuggled = copy.deepcopy(plan)
    entry = smuggled["protected"].pop()
    del entry["protection"]
    smuggled["items"].append(entry)
    with pytest.raises(PlanRefused, match="signature does not match"):
        verify(stocked, smuggled)
    # Even signed with the warehouse's key, a plan listing a protected resource as an item is refused.
    with pytest.raises(PlanRefused, match=r"\(vol-dnd\) is protected: tagged do-not-delete"):
        verify(stocked, resign(smuggled, plan_key(stocked)))
    refused = stocked.execute("SELECT count(*) FROM cleanup_audit WHERE event = 'plan_refused'").fetchone()
    assert refused == (3,)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(plan_version=2), r"plan_version 2 is not supported \(this spendscope reads 1\)"),
        (lambda p: p.pop("totals"), r"does not match the plan schema at \(top level\): 'totals' is a required"),
        (lambda p: p["items"][0].update(action="terminate"), r"does not match the plan schema at items/0/action"),
        (lambda p: p.update(warehouse_id="00000000-0000-4000-8000-000000000000"), r"made by another warehouse"),
    ],
)
def test_invalid_plans_are_refused(stocked: duckdb.DuckDBPyConnection, edit: Any, message: str) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    edit(plan)
    with pytest.raises(PlanRefused, match=message):
        verify(stocked, plan)


def test_stale_future_and_foreign_plans_are_refused(stocked: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    verify(stocked, plan, now=NOW + timedelta(hours=24))  # exactly plan_max_age_hours: accepted
    with pytest.raises(PlanRefused, match=r"stale: made 25\.0 h ago, more than plan_max_age_hours = 24"):
        verify(stocked, plan, now=NOW + timedelta(hours=25))
    with pytest.raises(PlanRefused, match="is in the future"):
        verify(stocked, plan, now=NOW - timedelta(hours=1))
    other = open_warehouse(tmp_path / "other.duckdb")
    try:
        with pytest.raises(PlanRefused, match=r"made by another warehouse \([0-9a-f-]{36}\); this one is"):
            verify(other, plan)
    finally:
        other.close()


def test_a_plan_made_before_a_protection_was_configured_is_refused(stocked: duckdb.DuckDBPyConnection) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    stricter = SETTINGS.model_copy(update={"protected_tags": [*SETTINGS.protected_tags, "team=web"]})
    with pytest.raises(PlanRefused, match=r"\(vol-b\) is protected: tagged team=web"):
        verify(stocked, plan, settings=stricter)


def test_approvals_are_signed_named_and_audited(stocked: duckdb.DuckDBPyConnection) -> None:
    plan = build_plan(stocked, SETTINGS, now=NOW)
    later = NOW + timedelta(minutes=5)
    approved, fresh = approve_plan(stocked, plan, SETTINGS, by=" Ada ", items=["vol-a"], now=later, source="p")
    assert [i.resource_id for i in fresh] == ["vol-a"]
    (approval,) = approved["approvals"]
    assert (approval["by"], approval["at"], approval["item_id"]) == (
        "Ada",
        "2026-11-15T12:05:00.000000Z",
        plan["items"][0]["id"],
    )
    assert approved["signature"] == plan["signature"]  # approvals are outside the plan signature
    again, fresh = approve_plan(stocked, approved, SETTINGS, by="Ada", items=None, now=later, source="p")
    assert [i.resource_id for i in fresh] == ["vol-b", "eipalloc-1"]  # vol-a is not approved twice by Ada
    assert len(again["approvals"]) == 3
    verified = verify(stocked, again)
    assert {k: [a.by for a in v] for k, v in verified.approved.items()} == {i["id"]: ["Ada"] for i in plan["items"]}
    audit = stocked.execute(
        "SELECT resource_id, actor FROM cleanup_audit WHERE event = 'approved' ORDER BY audit_id"
    ).fetchall()
    assert audit == [("vol-a", "Ada"), ("vol-b", "Ada"), ("eipalloc-1", "Ada")]

    forged = copy.deepcopy(approved)
    forged["approvals"][0]["by"] = "Mallory"
    with pytest.raises(PlanRefused, match=r"approval of [0-9a-f]{12} by 'Mallory' is not signed by this warehouse"):
        verify(stocked, forged)
    with pytest.raises(BadData, match="no item 'vol-zzz' in the plan"):
        approve_plan(stocked, plan, SETTINGS, by="Ada", items=["vol-zzz"], now=later, source="p")
    with pytest.raises(BadData, match=r"vol-dnd is protected \(tag\) and cannot be approved"):
        approve_plan(stocked, plan, SETTINGS, by="Ada", items=["vol-dnd"], now=later, source="p")
    with pytest.raises(BadData, match="--by needs the approver's name"):
        approve_plan(stocked, plan, SETTINGS, by="  ", items=None, now=later, source="p")


# ------------------------------------------------------------------ command line


def test_cli_plan_schema_approve_and_refusal(stocked: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    stocked.close()
    runner = CliRunner()
    base = ["--warehouse", str(tmp_path / "wh.duckdb")]

    schema = runner.invoke(app, [*base, "cleanup", "schema"])
    assert schema.exit_code == 0, schema.output
    path = tmp_path / "plan.json"
    made = runner.invoke(app, [*base, "cleanup", "plan", "--out", str(path)])
    assert made.exit_code == 0, made.output
    plan = json.loads(path.read_text())
    jsonschema.Draft202012Validator(json.loads(schema.stdout)).validate(plan)
    # Default [cleanup]: only do-not-delete protects; grace 14 days counts from the real clock here,
    # and these resources were created on 2026-01-01.
    assert {i["resource_id"] for i in plan["items"]} == {"vol-a", "vol-b", "eipalloc-1"}

    ok = runner.invoke(app, [*base, "cleanup", "approve", str(path), "--by", "Ada", "--items", "eipalloc-1"])
    assert ok.exit_code == 0, ok.output
    assert [a["by"] for a in json.loads(path.read_text())["approvals"]] == ["Ada"]

    tampered = json.loads(path.read_text())
    tampered["items"][0]["resource_id"] = "vol-important"
    write_plan_file(tampered, path)
    refused = runner.invoke(app, [*base, "cleanup", "apply", "--plan", str(path)])
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: {path}: signature does not match")
    assert len(refused.stderr.strip().splitlines()) == 1
