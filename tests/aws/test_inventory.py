"""AWS inventory collector and loader against a real moto_server (``moto`` fixture).

Every expected id, tag and count comes from what the test itself created in moto. Orphans are
found with SQL written here: the collector computes none, it must only make them findable.

moto, as measured (moto 5.2.x): describe_instances and describe_load_balancers honour the page
size; describe_volumes, describe_snapshots and describe_target_groups ignore it (one page);
describe_addresses and describe_target_health have no paging in the AWS API. describe_snapshots
with OwnerIds=["self"] also returns ~1,300 preloaded public AMI snapshots whose OwnerId is another
account than the caller's (sts get_caller_identity), so the collector's owner filter drops them.
moto cannot answer with throttling, expired-token or access-denied errors: those tests put a
``botocore.stub.Stubber`` on one client and say so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA, collect_inventory, parse_stop_time
from spendscope.errors import CollectorError, CredentialsExpired, Throttled, WarehouseError
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.inventory import load_inventory
from tests.servers.moto import MotoServer, free_port

REGIONS = ["us-east-1", "eu-west-1"]
Orphan = tuple[str, str, str, str | None]  # (resource_type, region, resource_id, team tag)

# What analysis will ask; written here, independently of the collector.
ORPHANS_SQL = """
SELECT resource_type, region, resource_id, tags->>'team' AS team
FROM inventory
WHERE source = $source AND observed_at = $observed_at AND (
       (resource_type = 'ebs_volume' AND attached_to IS NULL)
    OR (resource_type = 'elastic_ip' AND state = 'unassociated')
    OR (resource_type = 'ebs_snapshot' AND NOT CAST(details->>'source_volume_exists' AS BOOLEAN))
    OR (resource_type = 'load_balancer' AND CAST(details->>'registered_targets' AS INTEGER) = 0)
    OR (resource_type = 'ec2_instance' AND state = 'stopped'
        AND last_used_at < observed_at - INTERVAL 14 DAYS
        AND json_array_length(details->'attached_volumes') > 0))
"""


def session() -> Any:
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def collect(moto: MotoServer, regions: list[str], observed_at: datetime, **kw: Any) -> pa.Table:
    return collect_inventory(
        regions=regions, session=kw.pop("session", session()), endpoint_url=moto.url, observed_at=observed_at, **kw
    )


def tagspec(resource_type: str, **tags: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]


@pytest.fixture
def warehouse(tmp_path: Path) -> Any:
    conn = open_warehouse(tmp_path / "w.duckdb")
    yield conn
    conn.close()


def build_region(moto: MotoServer, region: str) -> tuple[set[Orphan], dict[str, Any]]:
    """A mix of used and orphaned resources in one region; returns the orphans and a few facts."""
    ec2, elb = moto.client("ec2", region), moto.client("elbv2", region)
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    az = f"{region}a"

    def instance(team: str) -> str:
        out = ec2.run_instances(
            ImageId=ami,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            Placement={"AvailabilityZone": az},
            TagSpecifications=tagspec("instance", team=team),
        )
        return str(out["Instances"][0]["InstanceId"])

    def volume(size: int, **tags: str) -> str:
        spec = tagspec("volume", **tags) if tags else []
        return str(ec2.create_volume(AvailabilityZone=az, Size=size, TagSpecifications=spec)["VolumeId"])

    running, stopped = instance("web"), instance("batch")
    data_volume = volume(10, team="batch")
    ec2.attach_volume(VolumeId=data_volume, InstanceId=stopped, Device="/dev/sdf")
    stop_before = datetime.now(UTC).replace(microsecond=0)
    ec2.stop_instances(InstanceIds=[stopped])
    stop_after = datetime.now(UTC)

    loose_volume, untagged_volume = volume(20, team="data"), volume(5)

    used_ip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=used_ip, InstanceId=running)
    free_ip = ec2.allocate_address(Domain="vpc", TagSpecifications=tagspec("elastic-ip", team="web"))["AllocationId"]

    doomed = volume(8)
    gone_snapshot = ec2.create_snapshot(VolumeId=doomed, TagSpecifications=tagspec("snapshot", team="data"))
    ec2.delete_volume(VolumeId=doomed)
    kept_snapshot = ec2.create_snapshot(VolumeId=loose_volume, TagSpecifications=tagspec("snapshot", team="data"))

    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]

    def balancer(name: str, team: str) -> tuple[str, str]:
        lb = elb.create_load_balancer(Name=name, Subnets=subnets[:2], Tags=[{"Key": "team", "Value": team}])
        arn = lb["LoadBalancers"][0]["LoadBalancerArn"]
        tg = elb.create_target_group(Name=f"{name}-tg", Protocol="HTTP", Port=80, VpcId=vpc)
        tg_arn = tg["TargetGroups"][0]["TargetGroupArn"]
        action = [{"Type": "forward", "TargetGroupArn": tg_arn}]
        elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=action)
        return arn, tg_arn

    empty_lb, _ = balancer("empty", "web")
    bare_lb = elb.create_load_balancer(Name="bare", Subnets=subnets[:2])["LoadBalancers"][0]["LoadBalancerArn"]
    used_lb, used_tg = balancer("used", "shop")
    elb.register_targets(TargetGroupArn=used_tg, Targets=[{"Id": running}])

    orphans = {
        ("ebs_volume", region, loose_volume, "data"),
        ("ebs_volume", region, untagged_volume, None),
        ("elastic_ip", region, free_ip, "web"),
        ("ebs_snapshot", region, gone_snapshot["SnapshotId"], "data"),
        ("load_balancer", region, empty_lb, "web"),
        ("load_balancer", region, bare_lb, None),  # no listener, no target group
        ("ec2_instance", region, stopped, "batch"),
    }
    facts = {
        "running": running,
        "stopped": stopped,
        "data_volume": data_volume,
        "used_ip": used_ip,
        "used_lb": used_lb,
        "bare_lb": bare_lb,
        "kept_snapshot": kept_snapshot["SnapshotId"],
        "loose_volume": loose_volume,
        "stop_window": (stop_before, stop_after),
        "snapshots": {gone_snapshot["SnapshotId"], kept_snapshot["SnapshotId"]},
    }
    return orphans, facts


def test_orphans_are_findable_per_kind_and_region(moto: MotoServer, warehouse: duckdb.DuckDBPyConnection) -> None:
    built = {region: build_region(moto, region) for region in REGIONS}
    account = moto.client("sts").get_caller_identity()["Account"]
    # The stopped instances stopped "now"; observing 30 days later makes them long-stopped.
    observed_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)

    table = collect(moto, REGIONS, observed_at)
    assert table.schema.equals(OUTPUT_SCHEMA)
    inserted = load_inventory(warehouse, table, source="aws-test")
    assert inserted == table.num_rows

    found = set(warehouse.execute(ORPHANS_SQL, {"source": "aws-test", "observed_at": observed_at}).fetchall())
    expected = built["us-east-1"][0] | built["eu-west-1"][0]
    assert found == expected

    def row(resource_id: str) -> dict[str, Any]:
        cur = warehouse.execute("SELECT * FROM inventory WHERE resource_id = $id", {"id": resource_id})
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        assert len(rows) == 1, resource_id
        return dict(zip(names, rows[0], strict=True))

    for region, (_, facts) in built.items():
        stopped = row(facts["stopped"])
        assert (stopped["provider"], stopped["account_id"], stopped["region"]) == ("aws", account, region)
        before, after = facts["stop_window"]
        assert before <= stopped["last_used_at"] <= after
        assert facts["data_volume"] in json.loads(stopped["details"])["attached_volumes"]
        assert row(facts["running"])["state"] == "running"
        assert row(facts["data_volume"])["attached_to"] == facts["stopped"]
        assert row(facts["used_ip"])["attached_to"] == facts["running"]
        loose = row(facts["loose_volume"])
        assert (loose["size"], loose["size_unit"], loose["state"]) == (20, "GiB", "available")
        used_lb = json.loads(row(facts["used_lb"])["details"])
        assert (used_lb["target_groups"], used_lb["registered_targets"]) == (1, 1)
        assert json.loads(row(facts["bare_lb"])["details"])["target_groups"] == 0
        assert json.loads(row(facts["kept_snapshot"])["details"])["source_volume_exists"] is True
        # Only the test's own snapshots: moto's preloaded public ones belong to other accounts.
        snapshots = warehouse.execute(
            "SELECT resource_id FROM inventory WHERE resource_type = 'ebs_snapshot' AND region = $r", {"r": region}
        ).fetchall()
        assert {s for (s,) in snapshots} == facts["snapshots"]


def test_paginators_read_every_page(moto: MotoServer) -> None:
    """describe_instances and describe_load_balancers page in moto: 7 and 6 items at page size 5."""
    ec2, elb = moto.client("ec2"), moto.client("elbv2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    instances = {ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"] for _ in range(7)}
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    balancers = {
        elb.create_load_balancer(Name=f"lb{i}", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
        for i in range(6)
    }
    volumes = {ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"] for _ in range(6)}

    calls: dict[str, int] = {}
    s = session()
    s.events.register("after-call.*.*", lambda model, **_: calls.update({model.name: calls.get(model.name, 0) + 1}))
    table = collect(moto, ["us-east-1"], datetime(2026, 10, 1, tzinfo=UTC), session=s, page_size=5)

    def ids(kind: str) -> set[str]:
        return {r["resource_id"] for r in table.to_pylist() if r["resource_type"] == kind}

    assert ids("ec2_instance") == instances
    assert ids("load_balancer") == balancers
    assert volumes <= ids("ebs_volume")  # plus the instances' root volumes
    assert calls["DescribeInstances"] >= 2  # ceil(7 / 5)
    assert calls["DescribeLoadBalancers"] >= 2  # ceil(6 / 5)


def test_history_kept_and_same_observation_replaced(moto: MotoServer, warehouse: duckdb.DuckDBPyConnection) -> None:
    ec2 = moto.client("ec2")
    first = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
    t1, t2 = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)
    assert load_inventory(warehouse, collect(moto, ["us-east-1"], t1), source="a") == 1
    second = ec2.create_volume(AvailabilityZone="us-east-1a", Size=2)["VolumeId"]
    at_t2 = collect(moto, ["us-east-1"], t2)
    assert load_inventory(warehouse, at_t2, source="a") == 2
    assert load_inventory(warehouse, at_t2, source="a") == 2  # the same observation again
    assert load_inventory(warehouse, at_t2, source="b") == 2  # another source is its own history

    ec2.delete_volume(VolumeId=first)
    load_inventory(warehouse, collect(moto, ["us-east-1"], t1), source="a")  # t1 re-observed

    stored = warehouse.execute(
        "SELECT source, observed_at, list(resource_id ORDER BY resource_id) FROM inventory GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert stored == [
        ("a", t1, [second]),  # replaced, not merged with the first load of t1
        ("a", t2, sorted([first, second])),
        ("b", t2, sorted([first, second])),
    ]


def test_load_refuses_a_table_without_the_inventory_columns(warehouse: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(WarehouseError, match=r"^aws: inventory table lacks columns .*observed_at"):
        load_inventory(warehouse, pa.table({"provider": ["aws"]}), source="aws")
    assert warehouse.execute("SELECT count(*) FROM inventory").fetchone() == (0,)


EC2_ORDER = {"describe_volumes": "Volumes", "describe_addresses": "Addresses", "describe_snapshots": "Snapshots"}
FAKE_KEY, FAKE_SECRET = "AKIASTUBBEDKEY000001", "stubbed/secret+never-in-messages"


EXPIRED = "The security token included in the request is expired"
DENIED = "You are not authorized to perform this operation.\nEncoded authorization failure message: abc"


@pytest.mark.parametrize(
    ("service", "op", "code", "message", "error"),
    [
        ("sts", "get_caller_identity", "ExpiredToken", EXPIRED, CredentialsExpired),
        ("ec2", "describe_volumes", "RequestLimitExceeded", "Request limit exceeded.", Throttled),
        ("ec2", "describe_snapshots", "RequestExpired", "Request has expired.", CredentialsExpired),
        ("ec2", "describe_addresses", "UnauthorizedOperation", DENIED, CollectorError),  # first line only
        ("elbv2", "describe_load_balancers", "Throttling", "Rate exceeded", Throttled),
        (
            "elbv2",
            "describe_load_balancers",
            "AccessDenied",
            "User: arn:aws:iam::1:user/ci is not authorized",
            CollectorError,
        ),
    ],
)
def test_aws_errors_become_one_line_typed_errors(
    moto: MotoServer, service: str, op: str, code: str, message: str, error: type[CollectorError]
) -> None:
    """Throttling, expired credentials and access denied come from a botocore Stubber on one client:
    moto cannot produce them. The other clients are moto's, so the calls before the failing one
    are real."""
    stubbed = boto3.client(
        service, region_name="eu-west-1", aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET
    )
    stubber = Stubber(stubbed)
    if service == "ec2":
        for earlier in list(EC2_ORDER)[: list(EC2_ORDER).index(op)]:
            stubber.add_response(earlier, {EC2_ORDER[earlier]: []})
    stubber.add_client_error(op, service_error_code=code, service_message=message, http_status_code=400)

    def factory(name: str, region: str) -> Any:
        return stubbed if name == service else moto.client(name, region)

    with stubber, pytest.raises(error) as caught:
        collect_inventory(regions=["eu-west-1"], observed_at=datetime.now(UTC), client_factory=factory)
    text = str(caught.value)
    assert text == f"{service}.{op} (eu-west-1): {code}: {message.splitlines()[0]}"
    assert caught.value.source == f"{service}.{op} (eu-west-1)"
    assert FAKE_KEY not in text and FAKE_SECRET not in text
    stubber.assert_no_pending_responses()


def test_unreachable_endpoint_is_a_collector_error() -> None:
    """The default clients (botocore retry config, max_attempts=1 here) against a closed port."""
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CollectorError, match=r"^sts\.get_caller_identity \(us-east-1\): EndpointConnectionError: "):
        collect_inventory(
            regions=["us-east-1"], session=session(), endpoint_url=url, observed_at=datetime.now(UTC), max_attempts=1
        )


def test_naive_observed_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        collect_inventory(regions=[], observed_at=datetime(2026, 10, 1))


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("User initiated (2026-10-01 12:00:00 GMT)", datetime(2026, 10, 1, 12, tzinfo=UTC)),
        ("User initiated (2026-11-25 20:32:30 UTC)", datetime(2026, 11, 25, 20, 32, 30, tzinfo=UTC)),  # moto's form
        ("Server.ScheduledStop", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_stop_time(reason: str | None, expected: datetime | None) -> None:
    assert parse_stop_time(reason) == expected


@given(st.datetimes(min_value=datetime(2006, 1, 1), max_value=datetime(2100, 1, 1)))
def test_parse_stop_time_round_trips(when: datetime) -> None:
    when = when.replace(microsecond=0)
    assert parse_stop_time(f"User initiated ({when:%Y-%m-%d %H:%M:%S} GMT)") == when.replace(tzinfo=UTC)


def test_inventory_aws_cli(moto: MotoServer, tmp_path: Path) -> None:
    """The command-line form `spendscope inventory aws --regions … --endpoint-url …` records an observation."""
    import subprocess
    import sys

    ec2 = moto.client("ec2", "eu-west-1")
    ec2.create_volume(AvailabilityZone="eu-west-1a", Size=8)
    wh = tmp_path / "w.duckdb"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "spendscope.cli",
            "--warehouse",
            str(wh),
            "inventory",
            "aws",
            "--regions",
            "eu-west-1",
            "--endpoint-url",
            moto.url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "ebs_volume" in proc.stdout
    import duckdb

    conn = duckdb.connect(str(wh), read_only=True)
    rows = conn.execute("SELECT region, resource_type, state FROM inventory WHERE resource_type = 'ebs_volume'")
    assert rows.fetchall() == [("eu-west-1", "ebs_volume", "available")]
    conn.close()
