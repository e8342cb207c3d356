"""AWS cleanup executor (boto3): snapshot-then-delete EBS volumes, release Elastic IPs, delete EBS
snapshots and ELBv2 load balancers.

``check`` re-reads the resource (describe_volumes / describe_addresses / describe_snapshots /
describe_load_balancers with its target groups' health) and reports what changed since the plan.
``act`` records what is needed to bring the resource back, then acts:

- volume: ``create_snapshot`` (tagged with the plan id and the volume's own tags), wait until the
  snapshot is ``completed`` (``snapshot_wait_s``; otherwise the volume is not deleted), then
  ``delete_volume``. Restore: ``create_volume(SnapshotId=…, AvailabilityZone=…)``.
- Elastic IP: ``release_address``. Restore: ``allocate_address(Address=public_ip)`` may recover the
  address while AWS has not handed it to another account.
- snapshot: ``delete_snapshot``. Recoverable only through an EBS Recycle Bin retention rule, if the
  account has one; the record keeps its volume, size, description and tags.
- load balancer: ``delete_load_balancer``. The record keeps its type, scheme, subnets, security
  groups, listeners and tags to re-create it.

Retries come from botocore's retry mode. Errors become one-line RemediationError naming the call
and region; credentials never appear.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import boto3  # type: ignore[import-untyped,unused-ignore]
from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]
from botocore.exceptions import BotoCoreError, ClientError, WaiterError  # type: ignore[import-untyped,unused-ignore]

from spendscope.errors import RemediationError
from spendscope.exporters.cleanup.plan import PlanItem
from spendscope.remediation import EXECUTORS, ExecutorOptions, LiveState, Outcome

__all__ = ["REQUIRED_PERMISSIONS", "AwsExecutor"]

log = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = (
    "ec2:DescribeVolumes",
    "ec2:CreateSnapshot",
    "ec2:CreateTags",
    "ec2:DescribeSnapshots",
    "ec2:DeleteVolume",
    "ec2:DescribeAddresses",
    "ec2:ReleaseAddress",
    "ec2:DeleteSnapshot",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DeleteLoadBalancer",
)

_GONE = frozenset(
    {
        "InvalidVolume.NotFound",
        "InvalidAllocationID.NotFound",
        "InvalidAddress.NotFound",
        "InvalidSnapshot.NotFound",
        "LoadBalancerNotFound",
    }
)
_NO_TARGET_GROUPS = frozenset({"TargetGroupNotFound"})
_MAX_TAGS = 50  # per EC2 resource
_WAIT_DELAY_S = 15
_MESSAGE_CHARS = 300


def _tags(tags: Any) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or []}


class _Gone(Exception):
    """The resource no longer exists (a NotFound error code)."""


class AwsExecutor:
    """Cleanup actions on AWS. ``session`` defaults to boto3's default credential chain."""

    provider = "aws"

    def __init__(
        self,
        options: ExecutorOptions,
        *,
        session: boto3.Session | None = None,
        client_factory: Callable[[str, str], Any] | None = None,
    ) -> None:
        """``client_factory`` ((service, region) → boto3 client) replaces the session's clients: tests put a
        botocore Stubber on one to answer what moto cannot (access denied)."""
        self._options = options
        self._session = session or boto3.Session()
        self._config = Config(retries={"mode": "standard", "max_attempts": 5})
        self._factory = client_factory
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            if self._factory is not None:
                self._clients[key] = self._factory(service, region)
            else:
                self._clients[key] = self._session.client(
                    service, region_name=region, endpoint_url=self._options.endpoint_url, config=self._config
                )
        return self._clients[key]

    def _call(
        self, service: str, op: str, region: str, *, none_found: frozenset[str] = frozenset(), **params: Any
    ) -> Any:
        """One API call; {} for an error code in ``none_found``, _Gone for a NotFound code."""
        call = f"{service}.{op} ({region})"
        try:
            return getattr(self._client(service, region), op)(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code") or "Unknown")
            if code in none_found:
                return {}
            if code in _GONE:
                raise _Gone(code) from exc
            text = str(err.get("Message") or "").strip()
            message = f"{code}: {text.splitlines()[0] if text else 'no message'}"
            raise RemediationError(message[:_MESSAGE_CHARS], source=call) from exc
        except BotoCoreError as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else "no message"
            raise RemediationError(f"{type(exc).__name__}: {text}"[:_MESSAGE_CHARS], source=call) from exc

    @staticmethod
    def _region(item: PlanItem) -> str:
        if not item.region:
            raise RemediationError(f"{item.resource_id} has no region in the plan", source="plan")
        return item.region

    # ------------------------------------------------------------------ check

    def check(self, item: PlanItem) -> LiveState:
        region = self._region(item)
        try:
            if item.action == "snapshot_then_delete_volume":
                return self._check_volume(item.resource_id, region)
            if item.action == "release_address":
                return self._check_address(item.resource_id, region)
            if item.action == "delete_snapshot":
                return self._check_snapshot(item.resource_id, region)
            if item.action == "delete_load_balancer":
                return self._check_balancer(item.resource_id, region)
        except _Gone:
            return LiveState(f"{item.resource_id} no longer exists", None)
        raise RemediationError(f"no AWS action {item.action!r} for {item.resource_id}", source="plan")

    def _volume(self, volume_id: str, region: str) -> dict[str, Any]:
        volumes = self._call("ec2", "describe_volumes", region, VolumeIds=[volume_id]).get("Volumes", [])
        if not volumes:
            raise _Gone(volume_id)
        volume: dict[str, Any] = volumes[0]
        return volume

    def _check_volume(self, volume_id: str, region: str) -> LiveState:
        v = self._volume(volume_id, region)
        attached = sorted(a["InstanceId"] for a in v.get("Attachments") or [] if a.get("InstanceId"))
        changed = None
        if attached:
            changed = f"attached again to {', '.join(attached)}"
        elif v.get("State") != "available":
            changed = f"state is {v.get('State')}, not available"
        return LiveState(changed, _tags(v.get("Tags")))

    def _address(self, address_id: str, region: str) -> dict[str, Any]:
        by: dict[str, Any] = (
            {"AllocationIds": [address_id]} if address_id.startswith("eipalloc-") else {"PublicIps": [address_id]}
        )
        addresses = self._call("ec2", "describe_addresses", region, **by).get("Addresses", [])
        if not addresses:
            raise _Gone(address_id)
        address: dict[str, Any] = addresses[0]
        return address

    def _check_address(self, address_id: str, region: str) -> LiveState:
        a = self._address(address_id, region)
        target = a.get("InstanceId") or a.get("NetworkInterfaceId") or a.get("AssociationId")
        return LiveState(f"associated again with {target}" if target else None, _tags(a.get("Tags")))

    def _snapshot(self, snapshot_id: str, region: str) -> dict[str, Any]:
        snapshots = self._call("ec2", "describe_snapshots", region, SnapshotIds=[snapshot_id]).get("Snapshots", [])
        if not snapshots:
            raise _Gone(snapshot_id)
        snapshot: dict[str, Any] = snapshots[0]
        return snapshot

    def _check_snapshot(self, snapshot_id: str, region: str) -> LiveState:
        s = self._snapshot(snapshot_id, region)
        tags = _tags(s.get("Tags"))
        if s.get("State") != "completed":
            return LiveState(f"state is {s.get('State')}, not completed", tags)
        volume_id = s.get("VolumeId")
        if volume_id and volume_id != "vol-ffffffff":  # the placeholder of copied snapshots
            try:
                self._volume(volume_id, region)
            except _Gone:
                return LiveState(None, tags)
            return LiveState(f"its source volume {volume_id} exists again", tags)
        return LiveState(None, tags)

    def _balancer(self, arn: str, region: str) -> dict[str, Any]:
        found = self._call("elbv2", "describe_load_balancers", region, LoadBalancerArns=[arn]).get("LoadBalancers", [])
        if not found:
            raise _Gone(arn)
        balancer: dict[str, Any] = found[0]
        return balancer

    def _target_groups(self, arn: str, region: str) -> list[dict[str, Any]]:
        # moto answers TargetGroupNotFound (not an empty list) for a balancer without target groups.
        groups = self._call(
            "elbv2", "describe_target_groups", region, none_found=_NO_TARGET_GROUPS, LoadBalancerArn=arn
        )
        return list(groups.get("TargetGroups", []))

    def _balancer_tags(self, arn: str, region: str) -> dict[str, str]:
        described = self._call("elbv2", "describe_tags", region, ResourceArns=[arn]).get("TagDescriptions", [])
        return _tags(described[0].get("Tags")) if described else {}

    def _check_balancer(self, arn: str, region: str) -> LiveState:
        self._balancer(arn, region)
        targets = 0
        for group in self._target_groups(arn, region):
            health = self._call("elbv2", "describe_target_health", region, TargetGroupArn=group["TargetGroupArn"])
            targets += len(health.get("TargetHealthDescriptions", []))
        changed = f"{targets} targets registered again" if targets else None
        return LiveState(changed, self._balancer_tags(arn, region))

    # ------------------------------------------------------------------ act

    def act(self, item: PlanItem, *, plan_id: str) -> Outcome:
        region = self._region(item)
        try:
            if item.action == "snapshot_then_delete_volume":
                return self._delete_volume(item, region, plan_id)
            if item.action == "release_address":
                return self._release_address(item, region)
            if item.action == "delete_snapshot":
                return self._delete_snapshot(item, region)
            if item.action == "delete_load_balancer":
                return self._delete_balancer(item, region)
        except _Gone as exc:
            raise RemediationError(f"{item.resource_id} disappeared while acting ({exc})", source="aws") from exc
        raise RemediationError(f"no AWS action {item.action!r} for {item.resource_id}", source="plan")

    def _delete_volume(self, item: PlanItem, region: str, plan_id: str) -> Outcome:
        v = self._volume(item.resource_id, region)
        own = [{"Key": k, "Value": val} for k, val in _tags(v.get("Tags")).items() if not k.startswith("aws:")]
        marks = [
            {"Key": "spendscope:cleanup-plan", "Value": plan_id},
            {"Key": "spendscope:source-volume", "Value": item.resource_id},
        ]
        snapshot = self._call(
            "ec2",
            "create_snapshot",
            region,
            VolumeId=item.resource_id,
            Description=f"spendscope cleanup plan {plan_id}: {item.resource_id} before deletion",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": (own[: _MAX_TAGS - len(marks)] + marks)}],
        )
        snapshot_id = str(snapshot["SnapshotId"])
        wait_s = self._options.snapshot_wait_s
        attempts = max(1, math.ceil(wait_s / _WAIT_DELAY_S))
        try:
            self._client("ec2", region).get_waiter("snapshot_completed").wait(
                SnapshotIds=[snapshot_id], WaiterConfig={"Delay": _WAIT_DELAY_S, "MaxAttempts": attempts}
            )
        except WaiterError as exc:
            raise RemediationError(
                f"snapshot {snapshot_id} of {item.resource_id} did not complete within {wait_s:g} s "
                "(snapshot_wait_s); the volume was not deleted",
                source=f"ec2.describe_snapshots ({region})",
            ) from exc
        self._call("ec2", "delete_volume", region, VolumeId=item.resource_id)
        log.info("deleted volume region=%s volume=%s snapshot=%s", region, item.resource_id, snapshot_id)
        restore = {
            "how": "ec2 create_volume with SnapshotId and AvailabilityZone",
            "snapshot_id": snapshot_id,
            "availability_zone": v.get("AvailabilityZone"),
            "size_gib": v.get("Size"),
            "volume_type": v.get("VolumeType"),
            "iops": v.get("Iops"),
            "throughput": v.get("Throughput"),
            "encrypted": v.get("Encrypted"),
            "kms_key_id": v.get("KmsKeyId"),
            "tags": _tags(v.get("Tags")),
        }
        return Outcome(snapshot_id, restore)

    def _release_address(self, item: PlanItem, region: str) -> Outcome:
        a = self._address(item.resource_id, region)
        if a.get("AllocationId"):
            self._call("ec2", "release_address", region, AllocationId=a["AllocationId"])
        else:
            self._call("ec2", "release_address", region, PublicIp=a["PublicIp"])
        log.info("released address region=%s address=%s", region, item.resource_id)
        restore = {
            "how": "ec2 allocate_address with Address = public_ip, while AWS has not reassigned it",
            "public_ip": a.get("PublicIp"),
            "domain": a.get("Domain"),
            "network_border_group": a.get("NetworkBorderGroup"),
            "tags": _tags(a.get("Tags")),
        }
        return Outcome(None, restore)

    def _delete_snapshot(self, item: PlanItem, region: str) -> Outcome:
        s = self._snapshot(item.resource_id, region)
        self._call("ec2", "delete_snapshot", region, SnapshotId=item.resource_id)
        log.info("deleted snapshot region=%s snapshot=%s", region, item.resource_id)
        restore = {
            "how": "only from an EBS Recycle Bin retention rule, if the account has one",
            "volume_id": s.get("VolumeId"),
            "volume_size_gib": s.get("VolumeSize"),
            "description": s.get("Description"),
            "start_time": s.get("StartTime"),
            "tags": _tags(s.get("Tags")),
        }
        return Outcome(None, restore)

    def _delete_balancer(self, item: PlanItem, region: str) -> Outcome:
        arn = item.resource_id
        b = self._balancer(arn, region)
        listeners = self._call("elbv2", "describe_listeners", region, LoadBalancerArn=arn).get("Listeners", [])
        tags = self._balancer_tags(arn, region)
        self._call("elbv2", "delete_load_balancer", region, LoadBalancerArn=arn)
        log.info("deleted load balancer region=%s arn=%s", region, arn)
        restore = {
            "how": "elbv2 create_load_balancer, then create_listener for each listener",
            "name": b.get("LoadBalancerName"),
            "type": b.get("Type"),
            "scheme": b.get("Scheme"),
            "ip_address_type": b.get("IpAddressType"),
            "subnets": [z.get("SubnetId") for z in b.get("AvailabilityZones") or []],
            "security_groups": b.get("SecurityGroups") or [],
            "listeners": [
                {"protocol": li.get("Protocol"), "port": li.get("Port"), "default_actions": li.get("DefaultActions")}
                for li in listeners
            ],
            "tags": tags,
        }
        return Outcome(None, restore)


@EXECUTORS.register("aws")
def make_aws_executor(options: ExecutorOptions) -> AwsExecutor:
    return AwsExecutor(options)
