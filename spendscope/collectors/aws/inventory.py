"""AWS resource inventory: EBS volumes and snapshots, Elastic IPs, ELBv2 load balancers, EC2 instances.

``collect_inventory`` reads each region with boto3 paginators (describe_addresses and
describe_target_health have no paginator in the AWS API: one call each) and returns one Arrow row
per resource for one observation (``OUTPUT_SCHEMA``: the warehouse ``inventory`` columns except
``source``, which the loader adds). Retries come from botocore's retry modes; there is no retry
loop here. It computes no orphans: it records what analysis needs to find them (``attached_to``,
``state``, ``details.source_volume_exists``, ``details.registered_targets``, ``last_used_at``).

Errors from AWS become one-line ``CollectorError`` subclasses whose ``source`` is the API call and
region, e.g. ``ec2.describe_volumes (eu-west-1): AccessDenied: …``; credentials never appear.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

import boto3  # type: ignore[import-untyped,unused-ignore]
import pyarrow as pa
from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped,unused-ignore]

from spendscope.errors import CollectorError, CredentialsExpired, Throttled

log = logging.getLogger(__name__)

ResourceType = Literal["ebs_volume", "elastic_ip", "ebs_snapshot", "load_balancer", "ec2_instance"]

OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string(), nullable=False),
        pa.field("account_id", pa.string()),
        pa.field("region", pa.string()),
        pa.field("resource_id", pa.string(), nullable=False),
        pa.field("resource_type", pa.string(), nullable=False),
        pa.field("state", pa.string()),
        pa.field("attached_to", pa.string()),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("last_used_at", pa.timestamp("us", tz="UTC")),
        pa.field("size", pa.decimal128(38, 6)),
        pa.field("size_unit", pa.string()),
        pa.field("tags", pa.string()),
        pa.field("details", pa.string()),
        pa.field("observed_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""The warehouse ``inventory`` columns except ``source``. tags and details are JSON object strings."""

REQUIRED_PERMISSIONS = (
    "sts:GetCallerIdentity",
    "ec2:DescribeVolumes",
    "ec2:DescribeAddresses",
    "ec2:DescribeSnapshots",
    "ec2:DescribeInstances",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
)

_EXPIRED = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded"})
_NO_TARGET_GROUPS = frozenset({"TargetGroupNotFound"})
_STOP_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")
_ELB_TAGS_PER_CALL = 20  # DescribeTags accepts at most 20 ARNs
_MESSAGE_CHARS = 300

Response = Mapping[str, Any]
"""A parsed AWS response: JSON-like, so its values are untyped."""


class _Paginator(Protocol):
    def paginate(self, **kwargs: Any) -> Iterable[Response]: ...


class AwsClient(Protocol):
    """The part of a botocore client the collector uses; any boto3 client satisfies it."""

    def get_paginator(self, operation_name: str) -> _Paginator: ...


ClientFactory = Callable[[str, str], AwsClient]
"""(service, region) -> client. Tests pass one to put a botocore Stubber on a single client."""


def collect_inventory(
    *,
    regions: list[str],
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    observed_at: datetime,
    page_size: int | None = None,
    retry_mode: Literal["standard", "adaptive"] = "standard",
    max_attempts: int = 5,
    client_factory: ClientFactory | None = None,
) -> pa.Table:
    """Read every supported resource in ``regions`` as one observation at ``observed_at``.

    observed_at must be timezone-aware (stored as UTC); the loader replaces an earlier load of the
    same (source, observed_at). page_size is passed to every paginator as ``PageSize`` (None: the
    API's default; EC2 wants 5..1000). ``endpoint_url`` is for emulators (moto) and applies to every
    service. Raises CredentialsExpired, Throttled or CollectorError naming the call and region.
    """
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    if client_factory is None:
        client_factory = _default_factory(session or boto3.Session(), endpoint_url, retry_mode, max_attempts)
    rows: list[dict[str, Any]] = []
    if regions:
        account_id = _account_id(client_factory("sts", regions[0]), regions[0])
        for region in regions:
            rows.extend(
                _region_rows(
                    client_factory("ec2", region),
                    client_factory("elbv2", region),
                    region=region,
                    account_id=account_id,
                    page_size=page_size,
                )
            )
    observed = observed_at.astimezone(UTC)
    for row in rows:
        row["observed_at"] = observed
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def parse_stop_time(reason: str | None) -> datetime | None:
    """The UTC time in an EC2 StateTransitionReason such as ``User initiated (2026-10-01 12:00:00 GMT)``.

    None when the reason carries no time (e.g. ``Server.ScheduledStop``) or is empty.
    """
    if not reason:
        return None
    m = _STOP_TIME.search(reason)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _default_factory(
    session: boto3.Session, endpoint_url: str | None, retry_mode: str, max_attempts: int
) -> ClientFactory:
    config = Config(retries={"mode": retry_mode, "max_attempts": max_attempts})

    def make(service: str, region: str) -> AwsClient:
        client: AwsClient = session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)
        return client

    return make


def _error(exc: ClientError | BotoCoreError, call: str) -> CollectorError:
    """One line, no credentials: the error code and the first line of AWS's message."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "Unknown")
        text = str(err.get("Message") or "").strip()
        message = f"{code}: {text.splitlines()[0] if text else 'no message'}"
        cls = CredentialsExpired if code in _EXPIRED else Throttled if code in _THROTTLED else CollectorError
    else:
        text = str(exc).strip()
        message = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no message'}"
        cls = CollectorError
    if len(message) > _MESSAGE_CHARS:
        message = message[: _MESSAGE_CHARS - 1] + "…"
    return cls(message, source=call)


def _call(client: AwsClient, service: str, op: str, region: str, **params: Any) -> Response:
    """One non-paginated API call, errors mapped at the edge."""
    call = f"{service}.{op} ({region})"
    try:
        response: Response = getattr(client, op)(**params)
    except (ClientError, BotoCoreError) as exc:
        raise _error(exc, call) from exc
    return response


def _items(
    client: AwsClient,
    service: str,
    op: str,
    key: str,
    region: str,
    page_size: int | None,
    *,
    none_found: frozenset[str] = frozenset(),
    **params: Any,
) -> list[Any]:
    """Every item under ``key`` across all pages of a paginated call; [] for a ``none_found`` code."""
    call = f"{service}.{op} ({region})"
    if page_size is not None:
        params["PaginationConfig"] = {"PageSize": page_size}
    items: list[Any] = []
    try:
        for page in client.get_paginator(op).paginate(**params):
            items.extend(page.get(key, []))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in none_found:
            return []
        raise _error(exc, call) from exc
    except BotoCoreError as exc:
        raise _error(exc, call) from exc
    return items


def _account_id(sts: AwsClient, region: str) -> str:
    return str(_call(sts, "sts", "get_caller_identity", region)["Account"])


def _region_rows(
    ec2: AwsClient, elbv2: AwsClient, *, region: str, account_id: str, page_size: int | None
) -> list[dict[str, Any]]:
    volumes = _items(ec2, "ec2", "describe_volumes", "Volumes", region, page_size)
    addresses = _call(ec2, "ec2", "describe_addresses", region).get("Addresses", [])
    snapshots = _items(ec2, "ec2", "describe_snapshots", "Snapshots", region, page_size, OwnerIds=["self"])
    reservations = _items(ec2, "ec2", "describe_instances", "Reservations", region, page_size)
    balancers = _items(elbv2, "elbv2", "describe_load_balancers", "LoadBalancers", region, page_size)

    # OwnerIds=["self"] is enough on AWS; moto also returns its preloaded public AMI snapshots, owned
    # by other accounts. Keeping only the caller's account is a no-op on AWS and correct on moto.
    own = [s for s in snapshots if s.get("OwnerId") == account_id]
    if len(own) != len(snapshots):
        log.debug("dropped snapshots of other owners region=%s count=%d", region, len(snapshots) - len(own))
    volume_ids = {v["VolumeId"] for v in volumes}
    instances = [i for r in reservations for i in r.get("Instances", [])]

    base = {"provider": "aws", "account_id": account_id, "region": region}
    rows = [{**base, **_volume(v)} for v in volumes]
    rows += [{**base, **_address(a)} for a in addresses]
    rows += [{**base, **_snapshot(s, volume_ids)} for s in own]
    rows += [{**base, **_instance(i)} for i in instances]
    rows += [{**base, **row} for row in _balancers(elbv2, balancers, region, page_size)]
    log.info(
        "inventory region=%s volumes=%d addresses=%d snapshots=%d instances=%d load_balancers=%d",
        region,
        len(volumes),
        len(addresses),
        len(own),
        len(instances),
        len(balancers),
    )
    return rows


def _row(
    resource_type: ResourceType,
    resource_id: str,
    *,
    state: str | None,
    attached_to: str | None = None,
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
    size_gib: int | None = None,
    tags: Mapping[str, str],
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "resource_id": resource_id,
        "resource_type": resource_type,
        "state": state,
        "attached_to": attached_to,
        "created_at": _utc(created_at),
        "last_used_at": last_used_at,
        "size": None if size_gib is None else Decimal(size_gib),
        "size_unit": None if size_gib is None else "GiB",
        "tags": json.dumps(dict(tags), sort_keys=True),
        "details": json.dumps(dict(details), sort_keys=True),
    }


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in resource.get("Tags") or []}


def _text(value: Any) -> str | None:
    """AWS (and moto) send '' for absent ids; store NULL."""
    return str(value) if value else None


def _volume(v: Mapping[str, Any]) -> dict[str, Any]:
    # A multi-attach io1/io2 volume can have several instances; attached_to keeps the first (sorted).
    attached = sorted(a["InstanceId"] for a in v.get("Attachments") or [] if a.get("InstanceId"))
    return _row(
        "ebs_volume",
        v["VolumeId"],
        state=v.get("State"),
        attached_to=attached[0] if attached else None,
        created_at=v.get("CreateTime"),
        size_gib=v.get("Size"),
        tags=_tags(v),
        details={"volume_type": v.get("VolumeType"), "iops": v.get("Iops"), "snapshot_id": _text(v.get("SnapshotId"))},
    )


def _address(a: Mapping[str, Any]) -> dict[str, Any]:
    target = _text(a.get("InstanceId")) or _text(a.get("NetworkInterfaceId"))
    associated = bool(_text(a.get("AssociationId")) or target)
    return _row(
        "elastic_ip",
        _text(a.get("AllocationId")) or str(a["PublicIp"]),  # EC2-Classic addresses have no allocation id
        state="associated" if associated else "unassociated",
        attached_to=target,
        tags=_tags(a),
        details={
            "public_ip": a.get("PublicIp"),
            "allocation_id": _text(a.get("AllocationId")),
            "domain": a.get("Domain"),
        },
    )


def _snapshot(s: Mapping[str, Any], volume_ids: set[str]) -> dict[str, Any]:
    # Copied snapshots carry a placeholder VolumeId (vol-ffffffff): their source is not in this region.
    volume_id = _text(s.get("VolumeId"))
    return _row(
        "ebs_snapshot",
        s["SnapshotId"],
        state=s.get("State"),
        created_at=s.get("StartTime"),
        size_gib=s.get("VolumeSize"),
        tags=_tags(s),
        details={"volume_id": volume_id, "source_volume_exists": volume_id in volume_ids},
    )


def _instance(i: Mapping[str, Any]) -> dict[str, Any]:
    state = (i.get("State") or {}).get("Name")
    volumes = [m["Ebs"]["VolumeId"] for m in i.get("BlockDeviceMappings") or [] if m.get("Ebs", {}).get("VolumeId")]
    # LaunchTime is the last start, not the creation; it is the best creation time EC2 offers.
    return _row(
        "ec2_instance",
        i["InstanceId"],
        state=state,
        created_at=i.get("LaunchTime"),
        last_used_at=parse_stop_time(i.get("StateTransitionReason")) if state == "stopped" else None,
        tags=_tags(i),
        details={"instance_type": i.get("InstanceType"), "attached_volumes": volumes},
    )


def _balancers(
    elbv2: AwsClient, balancers: list[Mapping[str, Any]], region: str, page_size: int | None
) -> Iterator[dict[str, Any]]:
    arns = [b["LoadBalancerArn"] for b in balancers]
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), _ELB_TAGS_PER_CALL):
        chunk = arns[start : start + _ELB_TAGS_PER_CALL]
        described = _call(elbv2, "elbv2", "describe_tags", region, ResourceArns=chunk)
        tags.update({d["ResourceArn"]: _tags(d) for d in described.get("TagDescriptions", [])})
    health: dict[str, list[Mapping[str, Any]]] = {}  # per target group, asked once
    for b in balancers:
        arn = b["LoadBalancerArn"]
        # moto answers TargetGroupNotFound (not an empty list) for a load balancer without target groups.
        groups = _items(
            elbv2,
            "elbv2",
            "describe_target_groups",
            "TargetGroups",
            region,
            page_size,
            none_found=_NO_TARGET_GROUPS,
            LoadBalancerArn=arn,
        )
        for g in groups:
            tg = g["TargetGroupArn"]
            if tg not in health:
                reply = _call(elbv2, "elbv2", "describe_target_health", region, TargetGroupArn=tg)
                health[tg] = list(reply.get("TargetHealthDescriptions", []))
        targets = [t for g in groups for t in health[g["TargetGroupArn"]]]
        yield _row(
            "load_balancer",
            arn,
            state=(b.get("State") or {}).get("Code"),
            created_at=b.get("CreatedTime"),
            tags=tags.get(arn, {}),
            details={
                "name": b.get("LoadBalancerName"),
                "type": b.get("Type"),
                "scheme": b.get("Scheme"),
                "target_groups": len(groups),
                "registered_targets": len(targets),
                "healthy_targets": sum(1 for t in targets if (t.get("TargetHealth") or {}).get("State") == "healthy"),
            },
        )
