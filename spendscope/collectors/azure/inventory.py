"""Azure resource inventory: managed disks and snapshots, virtual machines (with power state), public
IP addresses and network interfaces, per subscription.

``collect_azure_inventory`` lists each resource type with the SDK's paged ``list()`` / ``list_all()``
iterators (they follow ARM's ``nextLink``), asks each VM's instance view for its power state (the
list call does not carry it), and returns one Arrow row per resource for one observation, in the AWS
inventory's ``OUTPUT_SCHEMA`` (load it with ``warehouse.inventory.load_inventory``). It computes no
orphans: it records what analysis needs to find them:

- disk ``state``: ARM's diskState lower-cased (``unattached``, ``attached``, ``reserved`` …),
  ``attached_to`` its managedBy VM, ``last_used_at`` its lastOwnershipUpdateTime while unattached;
- snapshot ``details.source_disk_exists`` (is the disk it was taken from still listed?);
- VM ``state``: the instance view's ``PowerState/<x>`` (``deallocated``, ``stopped``, ``running`` …),
  ``details.attached_disks`` (OS and data disk ids);
- public IP ``state`` ``unassociated`` when it has neither an ipConfiguration nor a NAT gateway;
- NIC ``state`` ``detached`` when neither a VM, a private endpoint nor a private link service uses it.

Resource ids are kept as ARM spells them; Cost Management reports them lower-cased, so joins on
ResourceId must ignore case. Retries come from the SDK clients' retry policy (ARM's 429 carries
Retry-After, which azure-core honours for these GETs). Errors become one-line spendscope errors naming
the call and subscription, e.g. ``compute.disks.list <subscription>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, TypeVar

import pyarrow as pa
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute import models as compute_models
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network import models as network_models

from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.azure.retry import arm_errors, check_call_options

log = logging.getLogger(__name__)

ResourceType = Literal["managed_disk", "disk_snapshot", "virtual_machine", "public_ip", "network_interface"]

REQUIRED_PERMISSIONS = (
    "Microsoft.Compute/disks/read",
    "Microsoft.Compute/snapshots/read",
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachines/instanceView/read",
    "Microsoft.Network/publicIPAddresses/read",
    "Microsoft.Network/networkInterfaces/read",
)
"""All in the built-in Reader role."""

T = TypeVar("T")


def collect_azure_inventory(
    *,
    subscriptions: list[str],
    credential: TokenCredential,
    observed_at: datetime,
    base_url: str | None = None,
    call_options: Mapping[str, Any] | None = None,
    **client_kwargs: Any,
) -> pa.Table:
    """Read every supported resource of ``subscriptions`` as one observation at ``observed_at``.

    observed_at must be timezone-aware (stored as UTC). ``client_kwargs`` go to both SDK clients
    (e.g. ``retry_policy=``, ``retry_total=``); ``call_options`` to every SDK call (tests pass
    ``{"enforce_https": False}`` to reach a loopback http server; refused for any other host).
    Raises CredentialsExpired, Throttled or CollectorError naming the call and subscription.
    """
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    options = check_call_options(base_url, call_options)
    rows: list[dict[str, Any]] = []
    for subscription in subscriptions:
        with (
            ComputeManagementClient(credential, subscription, base_url=base_url, **client_kwargs) as compute,
            NetworkManagementClient(credential, subscription, base_url=base_url, **client_kwargs) as network,
        ):
            rows.extend(_subscription_rows(compute, network, subscription, options))
    observed = observed_at.astimezone(UTC)
    for row in rows:
        row["observed_at"] = observed
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def _listed(call: str, items: Callable[[], Iterable[T]]) -> list[T]:
    """Every item of a paged SDK list (pages are fetched while iterating, so errors surface here)."""
    with arm_errors(call):
        return list(items())


def _subscription_rows(
    compute: ComputeManagementClient,
    network: NetworkManagementClient,
    subscription: str,
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    disks = _listed(f"compute.disks.list {subscription}", lambda: compute.disks.list(**options))
    snapshots = _listed(f"compute.snapshots.list {subscription}", lambda: compute.snapshots.list(**options))
    vms = _listed(
        f"compute.virtual_machines.list_all {subscription}", lambda: compute.virtual_machines.list_all(**options)
    )
    ips = _listed(
        f"network.public_ip_addresses.list_all {subscription}",
        lambda: network.public_ip_addresses.list_all(**options),
    )
    nics = _listed(
        f"network.network_interfaces.list_all {subscription}", lambda: network.network_interfaces.list_all(**options)
    )
    disk_ids = {(d.id or "").lower() for d in disks}
    base = {"provider": "azure", "account_id": subscription}
    rows = [{**base, **_disk(d)} for d in disks]
    rows += [{**base, **_snapshot(s, disk_ids)} for s in snapshots]
    rows += [{**base, **_vm(vm, _instance_view(compute, vm, subscription, options))} for vm in vms]
    rows += [{**base, **_public_ip(ip)} for ip in ips]
    rows += [{**base, **_nic(nic)} for nic in nics]
    log.info(
        "azure inventory subscription=%s disks=%d snapshots=%d vms=%d public_ips=%d nics=%d",
        subscription,
        len(disks),
        len(snapshots),
        len(vms),
        len(ips),
        len(nics),
    )
    return rows


def resource_group(resource_id: str | None) -> str | None:
    """``/subscriptions/s/resourceGroups/rg/providers/…`` → ``rg`` (ARM ids are case-insensitive)."""
    parts = (resource_id or "").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1] or None
    return None


def _instance_view(
    compute: ComputeManagementClient,
    vm: compute_models.VirtualMachine,
    subscription: str,
    options: dict[str, Any],
) -> compute_models.VirtualMachineInstanceView | None:
    group = resource_group(vm.id)
    if group is None or vm.name is None:
        return None
    call = f"compute.virtual_machines.instance_view {subscription}"
    with arm_errors(call):
        try:
            return compute.virtual_machines.instance_view(group, vm.name, **options)
        except ResourceNotFoundError:
            log.info("vm deleted while listing vm=%s", vm.id)  # its row keeps state NULL
            return None


def _row(
    resource_type: ResourceType,
    resource: Any,
    *,
    state: str | None,
    attached_to: str | None = None,
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
    size_gib: int | None = None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "region": resource.location,
        "resource_id": resource.id,
        "resource_type": resource_type,
        "state": state,
        "attached_to": attached_to,
        "created_at": _utc(created_at),
        "last_used_at": _utc(last_used_at),
        "size": None if size_gib is None else Decimal(size_gib),
        "size_unit": None if size_gib is None else "GiB",
        "tags": json.dumps(dict(resource.tags or {}), sort_keys=True),
        "details": json.dumps(
            {"name": resource.name, "resource_group": resource_group(resource.id), **details}, sort_keys=True
        ),
    }


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _plain(value: Any) -> Any:
    """An SDK enum member (a str subclass whose str() is ``DiskState.UNATTACHED``) → its REST value."""
    return value.value if isinstance(value, Enum) else value


def _lower(value: Any) -> str | None:
    return str(_plain(value)).lower() if value else None


def _disk(d: compute_models.Disk) -> dict[str, Any]:
    p = d.properties or compute_models.DiskProperties({})
    state = _lower(p.disk_state)
    return _row(
        "managed_disk",
        d,
        state=state,
        attached_to=d.managed_by or None,
        created_at=p.time_created,
        # lastOwnershipUpdateTime: when the disk was last attached, detached or its VM deallocated
        last_used_at=p.last_ownership_update_time if state == "unattached" else None,
        size_gib=p.disk_size_gb,
        details={
            "sku": _plain(d.sku.name) if d.sku else None,
            "disk_state": _plain(p.disk_state),
            "os_type": _plain(p.os_type),
            "shared_by": list(d.managed_by_extended or []),
        },
    )


def _snapshot(s: compute_models.Snapshot, disk_ids: set[str]) -> dict[str, Any]:
    p = s.properties or compute_models.SnapshotProperties({})
    source = p.creation_data.source_resource_id if p.creation_data else None
    return _row(
        "disk_snapshot",
        s,
        state=_lower(p.provisioning_state),
        created_at=p.time_created,
        size_gib=p.disk_size_gb,
        details={
            "sku": _plain(s.sku.name) if s.sku else None,
            "incremental": p.incremental,
            "source_disk_id": source,
            "source_disk_exists": source is not None and source.lower() in disk_ids,
        },
    )


def power_state(view: compute_models.VirtualMachineInstanceView | None) -> tuple[str | None, datetime | None]:
    """(``deallocated`` from ``PowerState/deallocated``, time of the last provisioning operation)."""
    state, changed = None, None
    for status in (view.statuses or []) if view else []:
        code = status.code or ""
        if code.startswith("PowerState/"):
            state = code.removeprefix("PowerState/").lower()
        elif code.startswith("ProvisioningState/"):
            changed = status.time
    return state, changed


def _vm(vm: compute_models.VirtualMachine, view: compute_models.VirtualMachineInstanceView | None) -> dict[str, Any]:
    p = vm.properties or compute_models.VirtualMachineProperties({})
    storage = p.storage_profile
    os_disk = storage.os_disk.managed_disk.id if storage and storage.os_disk and storage.os_disk.managed_disk else None
    data_disks = [d.managed_disk.id for d in (storage.data_disks or []) if d.managed_disk] if storage else []
    state, changed = power_state(view)
    return _row(
        "virtual_machine",
        vm,
        state=state,
        created_at=p.time_created,
        # the last provisioning operation of a stopped VM is, in practice, the stop or deallocation
        last_used_at=changed if state in ("deallocated", "stopped") else None,
        details={
            "vm_size": _plain(p.hardware_profile.vm_size) if p.hardware_profile else None,
            "os_disk": os_disk,
            "data_disks": data_disks,
            "attached_disks": [d for d in [os_disk, *data_disks] if d],
        },
    )


def _public_ip(ip: network_models.PublicIPAddress) -> dict[str, Any]:
    p = ip.properties or network_models.PublicIPAddressPropertiesFormat({})
    target = (p.ip_configuration.id if p.ip_configuration else None) or (p.nat_gateway.id if p.nat_gateway else None)
    return _row(
        "public_ip",
        ip,
        state="associated" if target else "unassociated",
        attached_to=target,
        details={
            "sku": _plain(ip.sku.name) if ip.sku else None,
            "ip_address": p.ip_address,
            "allocation_method": _plain(p.public_ip_allocation_method),
        },
    )


def _nic(nic: network_models.NetworkInterface) -> dict[str, Any]:
    p = nic.properties or network_models.NetworkInterfacePropertiesFormat({})
    users = [r.id for r in (p.virtual_machine, p.private_endpoint, p.private_link_service) if r is not None and r.id]
    return _row(
        "network_interface",
        nic,
        state="attached" if users else "detached",
        attached_to=users[0] if users else None,
        details={"mac_address": p.mac_address, "primary": p.primary},
    )
