"""The AWS cleanup executor against a real moto_server (``moto`` fixture).

The 50 orphans are created in moto by the test, recorded by the real inventory collector and found
by run_orphans; which resources must be deleted, kept or snapshotted is decided here from what the
test created and from the plan's item order (the plan is the input of apply). Every assertion
about the cloud reads moto's state back with boto3.

Prices (list-price estimates, no bill): load balancer 0.0225 × 730 = 16.425 USD/month; Elastic IP
0.005 × 730 = 3.65; volume 0.08 per GiB (5 GiB → 0.40, …, 1 GiB → 0.08); snapshot 0.05 per GiB.
So the plan order is: the load balancer, the IPs, the volumes by size, the snapshots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import jsonschema  # type: ignore[import-untyped]
import pyarrow as pa
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from spendscope.analysis.orphans import run_orphans
from spendscope.cli import app
from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA, collect_inventory
from spendscope.exporters.cleanup.plan import build_plan
from spendscope.exporters.cleanup.settings import CleanupSettings
from spendscope.exporters.cleanup.verify import approve_plan, plan_schema, verify_plan, write_plan_file
from spendscope.remediation import ExecutorOptions
from spendscope.remediation.apply import ApplyResult, apply_plan
from spendscope.remediation.aws import AwsExecutor
from spendscope.warehouse.inventory import load_inventory
from tests.servers.moto import MotoServer

REGION = "us-east-1"
SETTINGS = CleanupSettings(
    protected_tags=["do-not-delete", "lifecycle=keep"],
    grace_days=0,  # moto's resources are seconds old
    snapshot_max_age_days=0,
    max_actions=5,
    max_monthly_cost={"USD": Decimal(1000)},
    rate_per_second=1000,
    plan_max_age_hours=1,
    snapshot_wait_s=30,
)


@dataclass
class World:
    volumes: list[str]
    addresses: list[str]
    snapshots: list[str]
    balancer: str
    protected: set[str]

    @property
    def all(self) -> list[str]:
        return [*self.volumes, *self.addresses, *self.snapshots, self.balancer]


def tagspec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


def build_world(moto: MotoServer) -> World:
    """25 volumes, 15 Elastic IPs, 9 snapshots of a deleted volume, 1 load balancer: 50 orphans.

    Protected: volumes 0-2 tagged do-not-delete, IPs 0-1 tagged lifecycle=keep (5). Volume 3 is
    tagged lifecycle=temporary: not protected (the rule names a value)."""
    ec2, elb = moto.client("ec2", REGION), moto.client("elbv2", REGION)
    az = f"{REGION}a"
    volumes = []
    for i in range(25):
        tags = {"team": f"team-{i % 3}"}
        if i < 3:
            tags["do-not-delete"] = "yes"
        if i == 3:
            tags["lifecycle"] = "temporary"
        size = 1 + i % 5
        volumes.append(
            ec2.create_volume(AvailabilityZone=az, Size=size, TagSpecifications=tagspec("volume", tags))["VolumeId"]
        )
    addresses = []
    for i in range(15):
        tags = {"owner": "alice"} | ({"Lifecycle": "keep"} if i < 2 else {})
        addresses.append(
            ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", tags))["AllocationId"]
        )
    doomed = ec2.create_volume(AvailabilityZone=az, Size=2)["VolumeId"]
    snapshots = [
        ec2.create_snapshot(VolumeId=doomed, TagSpecifications=tagspec("snapshot", {"team": "data"}))["SnapshotId"]
        for _ in range(9)
    ]
    ec2.delete_volume(VolumeId=doomed)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    balancer = elb.create_load_balancer(Name="idle", Subnets=subnets[:2], Tags=[{"Key": "team", "Value": "web"}])
    protected = set(volumes[:3]) | set(addresses[:2])
    return World(volumes, addresses, snapshots, balancer["LoadBalancers"][0]["LoadBalancerArn"], protected)


def record(moto: MotoServer, conn: duckdb.DuckDBPyConnection) -> datetime:
    observed = datetime.now(UTC)
    table = collect_inventory(regions=[REGION], endpoint_url=moto.url, observed_at=observed)
    load_inventory(conn, table, source="aws")
    now = observed + timedelta(seconds=1)
    assert run_orphans(conn, now=now, min_age_days=0) == 50
    return now


def cloud_state(moto: MotoServer, world: World) -> dict[str, Any]:
    """What exists in moto now: resource id → state (volumes), association (IPs), True (others)."""
    ec2, elb = moto.client("ec2", REGION), moto.client("elbv2", REGION)
    state: dict[str, Any] = {}
    for v in ec2.describe_volumes()["Volumes"]:
        state[v["VolumeId"]] = (v["State"], tuple(a["InstanceId"] for a in v["Attachments"]))
    for a in ec2.describe_addresses()["Addresses"]:
        state[a["AllocationId"]] = a.get("AssociationId")
    own = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    for s in own:
        if s["SnapshotId"] in world.snapshots or any(t["Key"] == "spendscope:source-volume" for t in s.get("Tags", [])):
            state[s["SnapshotId"]] = s["State"]
    for b in elb.describe_load_balancers()["LoadBalancers"]:
        state[b["LoadBalancerArn"]] = True
    return state


def planned(conn: duckdb.DuckDBPyConnection, approved: list[str], *, by: str = "alice") -> dict[str, Any]:
    plan = build_plan(conn, SETTINGS, now=datetime.now(UTC))
    plan, fresh = approve_plan(conn, plan, SETTINGS, by=by, items=approved, now=datetime.now(UTC), source="test")
    assert len(fresh) == len(approved)
    return plan


def apply(conn: duckdb.DuckDBPyConnection, moto: MotoServer, plan: dict[str, Any], *, execute: bool) -> ApplyResult:
    verified = verify_plan(conn, plan, SETTINGS, now=datetime.now(UTC), source="test")
    return apply_plan(conn, verified, SETTINGS, execute=execute, endpoint_url=moto.url, actor="test")


def approved_set(world: World) -> list[str]:
    """10 unprotected orphans: the load balancer, 2 IPs, 4 volumes, 3 snapshots."""
    return [world.balancer, *world.addresses[2:4], *world.volumes[3:7], *world.snapshots[:3]]


def first_approved(plan: dict[str, Any], approved: list[str], n: int) -> list[str]:
    order = [i["resource_id"] for i in plan["items"]]
    return [r for r in order if r in approved][:n]


def audit_rows(conn: duckdb.DuckDBPyConnection, apply_id: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT resource_id, decision, reason, mode FROM cleanup_audit WHERE apply_id = $a AND event = 'item'",
        {"a": apply_id},
    ).fetchall()


def test_execute_acts_on_exactly_the_first_approved_within_the_cap(
    moto: MotoServer, wh: duckdb.DuckDBPyConnection
) -> None:
    world = build_world(moto)
    record(moto, wh)
    approved = approved_set(world)
    plan = planned(wh, approved)
    jsonschema.Draft202012Validator(plan_schema()).validate(plan)
    assert {i["resource_id"] for i in plan["protected"]} == world.protected
    assert {i["resource_id"] for i in plan["items"]} == set(world.all) - world.protected
    ip = next(i for i in plan["items"] if i["resource_id"] == world.addresses[2])
    # EC2 gives no creation time for an Elastic IP: its age counts from the first finding (now).
    assert (ip["age_basis"], ip["age_days"], ip["owner"], ip["monthly_waste"]) == ("first_seen", 0, "alice", "3.65")
    before = cloud_state(moto, world)

    pauses: list[float] = []

    def pause(seconds: float) -> None:  # a clock that only moves when the pacer waits
        pauses.append(seconds)

    paced = SETTINGS.model_copy(update={"rate_per_second": 5.0})  # 0.2 s between two actions
    verified = verify_plan(wh, plan, paced, now=datetime.now(UTC), source="test")
    result = apply_plan(
        wh, verified, paced, execute=True, endpoint_url=moto.url, clock=lambda: sum(pauses), sleep=pause
    )

    expected = first_approved(plan, approved, 5)
    assert pauses == pytest.approx([0.2] * 4)  # a wait before each action but the first
    # Plan order by waste: the load balancer (16.425), the IPs (3.65), then the 5 GiB and 4 GiB volumes.
    assert expected[0] == world.balancer and set(expected[1:3]) == set(world.addresses[2:4])
    acted = [d.item.resource_id for d in result.decisions if d.decision == "acted"]
    assert acted == expected
    after = cloud_state(moto, world)
    assert set(before) - set(after) == set(expected)
    untouched = [r for r in world.all if r not in expected]
    assert all(after[r] == before[r] for r in untouched)

    deleted_volumes = {r for r in expected if r.startswith("vol-")}
    assert len(deleted_volumes) == 2
    ec2 = moto.client("ec2", REGION)
    safety = ec2.describe_snapshots(
        Filters=[{"Name": "tag:spendscope:source-volume", "Values": sorted(deleted_volumes)}]
    )
    by_volume = {s["VolumeId"]: s for s in safety["Snapshots"]}
    assert set(by_volume) == deleted_volumes
    assert all(s["State"] == "completed" for s in by_volume.values())
    rollback = dict(
        wh.execute(
            "SELECT resource_id, snapshot_id FROM cleanup_rollback WHERE apply_id = $a", {"a": result.apply_id}
        ).fetchall()
    )
    assert set(rollback) == set(expected)
    assert {rollback[v] for v in deleted_volumes} == {by_volume[v]["SnapshotId"] for v in deleted_volumes}
    restore = json.loads(
        wh.execute(
            "SELECT restore FROM cleanup_rollback WHERE resource_id = $r", {"r": sorted(deleted_volumes)[0]}
        ).fetchall()[0][0]
    )
    assert restore["availability_zone"] == f"{REGION}a" and restore["size_gib"] in (4, 5)

    rows = audit_rows(wh, result.apply_id)
    assert len(rows) == 45  # one decision per plan item
    decisions = {r[0]: (r[1], r[2]) for r in rows}
    assert {r for r, (d, _) in decisions.items() if d == "acted"} == set(expected)
    capped = [r for r in approved if r not in expected]
    assert all(decisions[r] == ("skipped", "max_actions = 5 reached") for r in capped)
    assert all(decisions[r] == ("skipped", "not approved") for r in decisions if r not in approved)
    events = [e for (e,) in wh.execute("SELECT event FROM cleanup_audit ORDER BY audit_id").fetchall()]
    assert events[:2] == ["plan_created", "approved"] and events.count("approved") == 10
    assert events[-47] == "apply_started" and events[-1] == "apply_finished"


def test_dry_run_changes_nothing(moto: MotoServer, wh: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    world = build_world(moto)
    record(moto, wh)
    approved = approved_set(world)
    plan = planned(wh, approved)
    before = cloud_state(moto, world)

    result = apply(wh, moto, plan, execute=False)

    assert cloud_state(moto, world) == before
    would = [d.item.resource_id for d in result.decisions if d.decision == "would_act"]
    assert would == first_approved(plan, approved, 5)
    assert result.count("acted") == 0
    assert wh.execute("SELECT count(*) FROM cleanup_rollback").fetchone() == (0,)
    assert {r[3] for r in audit_rows(wh, result.apply_id)} == {"dry_run"}

    # max_monthly_cost: the load balancer (16.425) fits under 20 USD; an IP would make 16.425 + 3.65 =
    # 20.075: both IPs are skipped; the 5 GiB and 4 GiB volumes (0.40 + 0.32) fit: 17.145.
    capped = SETTINGS.model_copy(update={"max_monthly_cost": {"USD": Decimal(20)}})
    verified = verify_plan(wh, plan, capped, now=datetime.now(UTC), source="test")
    by_cost = apply_plan(wh, verified, capped, execute=False, endpoint_url=moto.url)
    decided = {d.item.resource_id: (d.decision, d.reason) for d in by_cost.decisions}
    over = "would remove 20.075 USD/month in this apply, above max_monthly_cost 20"
    assert all(decided[ip] == ("skipped", over) for ip in world.addresses[2:4])
    assert [d.item.resource_id for d in by_cost.decisions if d.decision == "would_act"] == [
        r for r in first_approved(plan, approved, 10) if r not in world.addresses
    ][:5]
    assert cloud_state(moto, world) == before

    # The command line: dry run by default, the same decisions, still nothing changed.
    path = tmp_path / "plan.json"
    write_plan_file(plan, path)
    config = tmp_path / "spendscope.toml"
    config.write_text(
        "[cleanup]\nprotected_tags = ['do-not-delete', 'lifecycle=keep']\ngrace_days = 0\n"
        "snapshot_max_age_days = 0\nmax_actions = 5\nrate_per_second = 1000\n"
    )
    wh.close()
    cli = CliRunner().invoke(
        app,
        [
            "--config", str(config), "--warehouse", str(tmp_path / "wh.duckdb"),
            "cleanup", "apply", "--plan", str(path), "--endpoint-url", moto.url, "--format", "json",
        ],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    decisions = json.loads(cli.stdout)
    assert [d["resource_id"] for d in decisions if d["decision"] == "would_act"] == would
    assert cloud_state(moto, world) == before


def test_changed_resources_are_skipped(moto: MotoServer, wh: duckdb.DuckDBPyConnection) -> None:
    """A volume attached again and a volume whose tags changed since the plan are not touched."""
    world = build_world(moto)
    record(moto, wh)
    approved = approved_set(world)
    plan = planned(wh, approved)
    volumes = [r for r in first_approved(plan, approved, 10) if r.startswith("vol-")]
    reattached, retagged = volumes[0], volumes[1]
    ec2 = moto.client("ec2", REGION)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": f"{REGION}a"})
    instance_id = instance["Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=reattached, InstanceId=instance_id, Device="/dev/sdf")
    ec2.create_tags(Resources=[retagged], Tags=[{"Key": "needed-by", "Value": "bob"}])

    result = apply(wh, moto, plan, execute=True)

    reasons = {d.item.resource_id: (d.decision, d.reason) for d in result.decisions}
    assert reasons[reattached] == ("skipped", f"changed since the plan: attached again to {instance_id}")
    assert reasons[retagged] == ("skipped", "tags changed since the plan: added needed-by")
    # The cap counts actions, not skips: the next approved items take their places.
    expected = [r for r in first_approved(plan, approved, 10) if r not in (reattached, retagged)][:5]
    assert [d.item.resource_id for d in result.decisions if d.decision == "acted"] == expected
    after = cloud_state(moto, world)
    assert after[reattached][1] == (instance_id,)
    assert retagged in after
    assert all(r not in after for r in expected)
    audit = {r[0]: (r[1], r[2]) for r in audit_rows(wh, result.apply_id)}
    assert audit[reattached] == reasons[reattached] and audit[retagged] == reasons[retagged]


def test_protected_items_cannot_be_approved(moto: MotoServer, wh: duckdb.DuckDBPyConnection) -> None:
    world = build_world(moto)
    record(moto, wh)
    plan = build_plan(wh, SETTINGS, now=datetime.now(UTC))
    from spendscope.errors import BadData

    with pytest.raises(BadData, match=r"is protected \(tag\) and cannot be approved"):
        approve_plan(wh, plan, SETTINGS, by="mallory", items=[world.volumes[0]], now=datetime.now(UTC), source="t")


DENIED = "You are not authorized to perform this operation."


def test_a_failed_action_stops_the_run(wh: duckdb.DuckDBPyConnection) -> None:
    """moto allows every call, so the refusal comes from a botocore Stubber on the EC2 client."""
    now = datetime.now(UTC)
    volumes = [
        {
            "provider": "aws", "account_id": "123456789012", "region": REGION, "resource_id": vid,
            "resource_type": "ebs_volume", "state": "available", "attached_to": None,
            "created_at": datetime(2026, 1, 1, tzinfo=UTC), "last_used_at": None, "size": Decimal(size),
            "size_unit": "GiB", "tags": "{}", "details": "{}", "observed_at": now - timedelta(hours=1),
        }
        for vid, size in (("vol-0aaa", 5), ("vol-0bbb", 4))
    ]  # fmt: skip
    load_inventory(wh, pa.Table.from_pylist(volumes, schema=OUTPUT_SCHEMA), source="aws")
    run_orphans(wh, now=now)
    plan = planned(wh, ["vol-0aaa", "vol-0bbb"])
    ec2 = boto3.client("ec2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    described = {"Volumes": [{"VolumeId": "vol-0aaa", "State": "available", "Attachments": [], "Size": 5}]}
    with Stubber(ec2) as stub:
        stub.add_response("describe_volumes", described, {"VolumeIds": ["vol-0aaa"]})  # the re-check
        stub.add_response("describe_volumes", described, {"VolumeIds": ["vol-0aaa"]})  # read before acting
        stub.add_client_error(
            "create_snapshot", "UnauthorizedOperation", "You are not authorized to perform this operation."
        )
        executor = AwsExecutor(ExecutorOptions(), client_factory=lambda service, region: ec2)
        verified = verify_plan(wh, plan, SETTINGS, now=datetime.now(UTC), source="test")
        result = apply_plan(wh, verified, SETTINGS, execute=True, executors={"aws": executor})
        stub.assert_no_pending_responses()
    assert [(d.item.resource_id, d.decision, d.reason) for d in result.decisions] == [
        ("vol-0aaa", "failed", f"ec2.create_snapshot ({REGION}): UnauthorizedOperation: {DENIED}"),
        ("vol-0bbb", "skipped", "stopped: the action on vol-0aaa failed"),
    ]  # fmt: skip
    assert not result.ok
    assert wh.execute("SELECT count(*) FROM cleanup_rollback").fetchall() == [(0,)]
    assert [r[1] for r in audit_rows(wh, result.apply_id)] == ["failed", "skipped"]
