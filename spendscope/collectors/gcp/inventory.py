"""Google Cloud resource inventory: persistent disks, external addresses, snapshots, VM instances.

``collect_gcp_inventory`` reads each project with the google-cloud-compute REST clients (Compute
Engine API v1): ``disks.aggregatedList``, ``addresses.aggregatedList``, ``instances.aggregatedList``
(every zone and region, paged by ``nextPageToken``) and ``snapshots.list`` (global). It returns one
Arrow row per resource for one observation, in the AWS inventory's ``OUTPUT_SCHEMA`` (load it with
``warehouse.inventory.load_inventory``). It computes no orphans; it records what analysis needs:

- disk ``state`` ``unattached`` when no instance uses it (``users`` empty), else ``attached``;
  ``attached_to`` the first user; ``last_used_at`` its lastDetachTimestamp while unattached;
- external address ``state`` ``reserved`` (status RESERVED: held but not associated), ``in_use``;
  internal addresses are not collected (they are not billed while reserved);
- snapshot ``details.source_disk_exists``: is the disk it was taken from (by id, else by name) still listed?
- instance ``state`` the status lower-cased (``terminated`` is a stopped VM whose disks still bill),
  ``details.attached_disks`` and ``last_used_at`` its lastStopTimestamp when terminated.

Resource ids are full resource names (``//compute.googleapis.com/projects/p/zones/z/disks/d``), as the
billing export's ``resource.global_name``. ``account_id`` is the project id; ``region`` the region (a
zone's region for zonal resources, ``global`` for global ones) and ``details.zone`` the zone. Labels are
stored as ``tags``. Retries come from google.api_core's ``Retry``; errors become one-line spendscope
errors naming the call and project, e.g. ``compute.disks.aggregatedList p1: 403 Forbidden: …``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import pyarrow as pa
from google.api_core.retry import Retry
from google.auth.credentials import Credentials
from google.cloud import compute_v1

from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.gcp.catalog import DEFAULT_RETRY, gcp_errors

log = logging.getLogger(__name__)

ResourceType = Literal["gce_disk", "gce_address", "gce_snapshot", "gce_instance"]

REQUIRED_PERMISSIONS = (
    "compute.disks.list",
    "compute.addresses.list",
    "compute.snapshots.list",
    "compute.instances.list",
)
"""All in the predefined role Compute Viewer (roles/compute.viewer)."""

_FULL_NAME_PREFIX = "//compute.googleapis.com/"
T = TypeVar("T")


def collect_gcp_inventory(
    *,
    projects: list[str],
    credentials: Credentials | None,
    observed_at: datetime,
    client_options: Mapping[str, Any] | None = None,
    retry: Retry = DEFAULT_RETRY,
) -> pa.Table:
    """Read every supported resource of ``projects`` as one observation at ``observed_at``.

    observed_at must be timezone-aware (stored as UTC). ``client_options`` go to every client (tests
    pass ``{"api_endpoint": "http://127.0.0.1:PORT"}``); ``retry`` to every call and page.
    Raises CredentialsExpired, Throttled or CollectorError naming the call and project.
    """
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    options = dict(client_options or {})
    kwargs: dict[str, Any] = {"transport": "rest", "credentials": credentials, "client_options": options}
    rows: list[dict[str, Any]] = []
    with (
        compute_v1.DisksClient(**kwargs) as disks,
        compute_v1.AddressesClient(**kwargs) as addresses,
        compute_v1.SnapshotsClient(**kwargs) as snapshots,
        compute_v1.InstancesClient(**kwargs) as instances,
    ):
        for project in projects:
            rows.extend(_project_rows(disks, addresses, snapshots, instances, project, retry))
    observed = observed_at.astimezone(UTC)
    for row in rows:
        row["observed_at"] = observed
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def _listed(call: str, items: Callable[[], Iterable[T]]) -> list[T]:
    """Every item of a paged SDK list (later pages are fetched while iterating, so errors surface here)."""
    with gcp_errors(call):
        return list(items())


def _project_rows(
    disks_client: compute_v1.DisksClient,
    addresses_client: compute_v1.AddressesClient,
    snapshots_client: compute_v1.SnapshotsClient,
    instances_client: compute_v1.InstancesClient,
    project: str,
    retry: Retry,
) -> list[dict[str, Any]]:
    disk_scopes = _listed(
        f"compute.disks.aggregatedList {project}", lambda: disks_client.aggregated_list(project=project, retry=retry)
    )
    address_scopes = _listed(
        f"compute.addresses.aggregatedList {project}",
        lambda: addresses_client.aggregated_list(project=project, retry=retry),
    )
    snapshots = _listed(
        f"compute.snapshots.list {project}", lambda: snapshots_client.list(project=project, retry=retry)
    )
    instance_scopes = _listed(
        f"compute.instances.aggregatedList {project}",
        lambda: instances_client.aggregated_list(project=project, retry=retry),
    )
    disks = [(scope, d) for scope, listed in disk_scopes for d in listed.disks]
    addresses = [(scope, a) for scope, listed in address_scopes for a in listed.addresses]
    instances = [(scope, i) for scope, listed in instance_scopes for i in listed.instances]
    disk_ids = {str(d.id) for _, d in disks if d.id}
    disk_names = {_full_name(project, scope, "disks", d.name) for scope, d in disks}

    base = {"provider": "gcp", "account_id": project}
    rows = [{**base, **_disk(project, scope, d)} for scope, d in disks]
    rows += [{**base, **_address(project, scope, a)} for scope, a in addresses if _external(a)]
    rows += [{**base, **_snapshot(project, s, disk_ids, disk_names)} for s in snapshots]
    rows += [{**base, **_instance(project, scope, i)} for scope, i in instances]
    log.info(
        "gcp inventory project=%s disks=%d addresses=%d snapshots=%d instances=%d",
        project,
        len(disks),
        len(addresses),
        len(snapshots),
        len(instances),
    )
    return rows


def full_resource_name(url: str) -> str:
    """A Compute self link (``https://…/compute/v1/projects/p/zones/z/disks/d``) as a full resource name.

    Returned unchanged when it holds no ``projects/`` segment.
    """
    i = url.find("projects/")
    return _FULL_NAME_PREFIX + url[i:] if i >= 0 else url


def _full_name(project: str, scope: str, collection: str, name: str) -> str:
    """``scope`` is the aggregated list key (``zones/us-central1-a``, ``regions/us-central1``) or ``global``."""
    return f"{_FULL_NAME_PREFIX}projects/{project}/{scope}/{collection}/{name}"


def _location(scope: str) -> tuple[str, str | None]:
    """(region, zone) of an aggregated-list scope: ``zones/us-central1-a`` → (us-central1, us-central1-a)."""
    kind, _, name = scope.partition("/")
    if kind == "zones":
        return name.rsplit("-", 1)[0], name
    if kind == "regions":
        return name, None
    return "global", None


def _time(value: str) -> datetime | None:
    """Compute timestamps are RFC 3339 strings with an offset (``2026-09-01T10:00:00.000-07:00``)."""
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _last_segment(url: str) -> str | None:
    return (url.rsplit("/", 1)[-1] or None) if url else None


def _external(address: compute_v1.Address) -> bool:
    return address.address_type in ("", "EXTERNAL")  # the API's default type is EXTERNAL


def _row(
    resource_type: ResourceType,
    resource_id: str,
    *,
    region: str,
    state: str | None,
    attached_to: str | None = None,
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
    size_gib: int | None = None,
    labels: Mapping[str, str],
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "region": region,
        "resource_id": resource_id,
        "resource_type": resource_type,
        "state": state,
        "attached_to": attached_to,
        "created_at": created_at,
        "last_used_at": last_used_at,
        "size": None if size_gib is None else Decimal(size_gib),
        "size_unit": None if size_gib is None else "GiB",  # Compute's "GB" sizes are GiB
        "tags": json.dumps(dict(labels), sort_keys=True),
        "details": json.dumps(dict(details), sort_keys=True),
    }


def _disk(project: str, scope: str, d: compute_v1.Disk) -> dict[str, Any]:
    region, zone = _location(scope)
    users = sorted(full_resource_name(u) for u in d.users)
    return _row(
        "gce_disk",
        _full_name(project, scope, "disks", d.name),
        region=region,
        state="attached" if users else "unattached",
        attached_to=users[0] if users else None,
        created_at=_time(d.creation_timestamp),
        last_used_at=None if users else _time(d.last_detach_timestamp),
        size_gib=int(d.size_gb) if d.size_gb else None,
        labels=d.labels,
        details={
            "zone": zone,
            "disk_id": str(d.id) if d.id else None,
            "disk_type": _last_segment(d.type_),
            "status": d.status or None,
            "users": users,
            "source_snapshot": full_resource_name(d.source_snapshot) if d.source_snapshot else None,
        },
    )


def _address(project: str, scope: str, a: compute_v1.Address) -> dict[str, Any]:
    region, _ = _location(scope)
    users = sorted(full_resource_name(u) for u in a.users)
    return _row(
        "gce_address",
        _full_name(project, scope, "addresses", a.name),
        region=region,
        state=a.status.lower() or None,  # RESERVED → reserved (held, unassociated), IN_USE → in_use
        attached_to=users[0] if users else None,
        created_at=_time(a.creation_timestamp),
        labels=a.labels,
        details={"address": a.address or None, "network_tier": a.network_tier or None, "users": users},
    )


def _snapshot(project: str, s: compute_v1.Snapshot, disk_ids: set[str], disk_names: set[str]) -> dict[str, Any]:
    source = full_resource_name(s.source_disk) if s.source_disk else None
    # By id when the API gives one: a disk deleted and recreated under the same name is another disk.
    exists = s.source_disk_id in disk_ids if s.source_disk_id else source in disk_names
    return _row(
        "gce_snapshot",
        _full_name(project, "global", "snapshots", s.name),
        region="global",
        state=s.status.lower() or None,
        created_at=_time(s.creation_timestamp),
        size_gib=int(s.disk_size_gb) if s.disk_size_gb else None,
        labels=s.labels,
        details={
            "source_disk": source,
            "source_disk_id": s.source_disk_id or None,
            "source_disk_exists": exists,
            "storage_bytes": int(s.storage_bytes) if s.storage_bytes else None,
            "storage_locations": list(s.storage_locations),
        },
    )


def _instance(project: str, scope: str, i: compute_v1.Instance) -> dict[str, Any]:
    region, zone = _location(scope)
    state = i.status.lower() or None
    return _row(
        "gce_instance",
        _full_name(project, scope, "instances", i.name),
        region=region,
        state=state,
        created_at=_time(i.creation_timestamp),
        last_used_at=_time(i.last_stop_timestamp) if state == "terminated" else None,
        labels=i.labels,
        details={
            "zone": zone,
            "machine_type": _last_segment(i.machine_type),
            "attached_disks": sorted(full_resource_name(d.source) for d in i.disks if d.source),
        },
    )
