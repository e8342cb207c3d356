"""Canned Azure Resource Manager answers, written by hand in the shapes the REST reference documents.

- Cost Management "Query - Usage", api-version 2025-03-01 (what azure-mgmt-costmanagement 5.0.0
  sends): ``{"id", "name", "type", "properties": {"nextLink", "columns": [{"name", "type"}], "rows"}}``;
  columns are the aggregation, the groupings, ``UsageDate`` (Number ``yyyyMMdd``) for daily
  granularity, then ``Currency``. The next page is a POST of the same body to ``nextLink``.
- Compute "Disks - List" / "Snapshots - List" (api-version 2026-03-02), "Virtual Machines - List All"
  and "Instance View" (2026-04-01); Network "Public IP Addresses - List All" and "Network Interfaces -
  List All" (2026-03-01): ``{"value": [...], "nextLink": ...}`` with ARM resources (``id``, ``name``,
  ``type``, ``location``, ``tags``, ``sku``, ``properties``). These are the api-versions the installed
  SDKs send; the fields used here have kept their shape across versions.

Resource ids in Cost Management answers are lower-cased, as the service reports them; the resource
APIs spell them as created. ``base`` is the loopback server's URL (no trailing slash): every
``nextLink`` points back at it, as ARM's point at management.azure.com.
"""

from __future__ import annotations

from typing import Any

SUB = "8f3c1d2e-5a6b-4c7d-9e8f-0a1b2c3d4e5f"
SUB2 = "1b2c3d4e-0000-4a5b-8c9d-112233445566"
TENANT = "72f988bf-0000-4000-8000-2d7cd011db47"

# --- Cost Management Query --------------------------------------------------------------------

QUERY_PATH = f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/query"
QUERY_API_VERSION = "2025-03-01"
SKIPTOKEN = "AQAAAA=="  # as it appears after URL-decoding ($skiptoken=AQAAAA%3D%3D)

RID_VM = f"/subscriptions/{SUB}/resourcegroups/rg-web/providers/microsoft.compute/virtualmachines/vm-web-1"
RID_DISK = f"/subscriptions/{SUB}/resourcegroups/rg-web/providers/microsoft.compute/disks/vm-web-1_osdisk"
RID_PIP = f"/subscriptions/{SUB}/resourcegroups/rg-net/providers/microsoft.network/publicipaddresses/pip-idle"
RID_FUNC = f"/subscriptions/{SUB}/resourcegroups/rg-fn/providers/microsoft.web/sites/fn-preview"

QUERY_COLUMNS = [
    {"name": "PreTaxCost", "type": "Number"},
    {"name": "ResourceId", "type": "String"},
    {"name": "ServiceName", "type": "String"},
    {"name": "UsageDate", "type": "Number"},
    {"name": "Currency", "type": "String"},
]


def _query_result(rows: list[list[Any]], next_link: str | None) -> dict[str, Any]:
    return {
        "id": f"subscriptions/{SUB}/providers/Microsoft.CostManagement/query/6a8e9f0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        "name": "6a8e9f0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        "type": "microsoft.costmanagement/Query",
        "properties": {"nextLink": next_link, "columns": QUERY_COLUMNS, "rows": rows},
    }


def query_page1(base: str) -> dict[str, Any]:
    return _query_result(
        [
            [12.5, RID_VM, "Virtual Machines", 20261001, "EUR"],
            [0.123456789012345, RID_DISK, "Storage", 20261001, "EUR"],
            [3.25, RID_VM, "Virtual Machines", 20261002, "EUR"],
        ],
        f"{base}{QUERY_PATH}?api-version={QUERY_API_VERSION}&$skiptoken=AQAAAA%3D%3D",
    )


def query_page2() -> dict[str, Any]:
    return _query_result(
        [
            [0.75, RID_PIP, "Virtual Network", 20261002, "EUR"],
            [2.0, "", "Bandwidth", 20261031, "EUR"],  # no resource: data transfer billed to the subscription
            [0.5, RID_FUNC, "Some Preview Service", 20261015, "EUR"],
        ],
        None,
    )


def query_single_page() -> dict[str, Any]:
    return _query_result([[1.0, RID_VM, "Virtual Machines", 20261001, "EUR"]], None)


THROTTLED_BODY = {"error": {"code": "429", "message": "Too many requests. Please retry."}}
EXPIRED_TOKEN_BODY = {
    "error": {
        "code": "ExpiredAuthenticationToken",
        "message": "The access token expiry UTC time '11/25/2026 19:00:00' is earlier than current UTC time "
        "'11/25/2026 20:00:00'.",
    }
}
EXPIRED_TOKEN_CHALLENGE = (
    f'Bearer authorization_uri="https://login.windows.net/{TENANT}", error="invalid_token", '
    'error_description="The access token has expired."'
)
FORBIDDEN_BODY = {
    "error": {
        "code": "AuthorizationFailed",
        "message": "The client 'a1b2c3d4-0000-4000-8000-000000000001' with object id "
        "'a1b2c3d4-0000-4000-8000-000000000001' does not have authorization to perform action "
        "'Microsoft.CostManagement/query/action' over scope '/subscriptions/"
        f"{SUB}' or the scope is invalid.",
    }
}

# --- Compute and Network ----------------------------------------------------------------------

COMPUTE_DISKS_API = "2026-03-02"
COMPUTE_VM_API = "2026-04-01"
NETWORK_API = "2026-03-01"


def _rid(sub: str, group: str, provider_type: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{provider_type}/{name}"


VM_WEB = _rid(SUB, "rg-web", "Microsoft.Compute/virtualMachines", "vm-web-1")
VM_BATCH = _rid(SUB, "rg-batch", "Microsoft.Compute/virtualMachines", "vm-batch-7")
DISK_WEB_OS = _rid(SUB, "rg-web", "Microsoft.Compute/disks", "vm-web-1_OsDisk_1")
DISK_BATCH_OS = _rid(SUB, "rg-batch", "Microsoft.Compute/disks", "vm-batch-7_OsDisk_1")
DISK_BATCH_DATA = _rid(SUB, "rg-batch", "Microsoft.Compute/disks", "vm-batch-7-data-0")
DISK_ORPHAN = _rid(SUB, "rg-old", "Microsoft.Compute/disks", "disk-left-behind")
DELETED_DISK = _rid(SUB, "rg-old", "Microsoft.Compute/disks", "disk-deleted-2025")
SNAP_OF_ORPHAN = _rid(SUB, "rg-old", "Microsoft.Compute/snapshots", "snap-left-behind")
SNAP_OF_DELETED = _rid(SUB, "rg-old", "Microsoft.Compute/snapshots", "snap-of-deleted")
PIP_WEB = _rid(SUB, "rg-web", "Microsoft.Network/publicIPAddresses", "pip-web")
PIP_IDLE = _rid(SUB, "rg-net", "Microsoft.Network/publicIPAddresses", "pip-idle")
PIP_NAT = _rid(SUB, "rg-net", "Microsoft.Network/publicIPAddresses", "pip-nat")
NIC_WEB = _rid(SUB, "rg-web", "Microsoft.Network/networkInterfaces", "vm-web-1-nic")
NIC_BATCH = _rid(SUB, "rg-batch", "Microsoft.Network/networkInterfaces", "vm-batch-7-nic")
NIC_PE = _rid(SUB, "rg-data", "Microsoft.Network/networkInterfaces", "pe-sql.nic.6c1f")
NIC_ORPHAN = _rid(SUB, "rg-old", "Microsoft.Network/networkInterfaces", "nic-left-behind")


def disks_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Compute/disks"


def snapshots_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Compute/snapshots"


def vms_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Compute/virtualMachines"


def instance_view_path(vm_id: str) -> str:
    return f"{vm_id}/instanceView"


def public_ips_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Network/publicIPAddresses"


def nics_path(sub: str) -> str:
    return f"/subscriptions/{sub}/providers/Microsoft.Network/networkInterfaces"


def _disk(
    rid: str,
    *,
    size_gb: int,
    state: str,
    sku: str,
    created: str,
    managed_by: str | None = None,
    ownership: str | None = None,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    disk: dict[str, Any] = {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": "Microsoft.Compute/disks",
        "location": "westeurope",
        "sku": {"name": sku, "tier": sku.split("_")[0]},
        "properties": {
            "osType": "Linux",
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": size_gb,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "timeCreated": created,
            "provisioningState": "Succeeded",
            "diskState": state,
        },
    }
    if managed_by:
        disk["managedBy"] = managed_by
    if ownership:
        disk["properties"]["LastOwnershipUpdateTime"] = ownership  # PascalCase in the REST API, unlike its siblings
    if tags is not None:
        disk["tags"] = tags
    return disk


def disks_page1(base: str) -> dict[str, Any]:
    return {
        "value": [
            _disk(
                DISK_WEB_OS,
                size_gb=30,
                state="Attached",
                sku="Premium_LRS",
                created="2025-03-02T08:15:00.1234567+00:00",
                managed_by=VM_WEB,
                tags={"team": "web"},
            ),
            _disk(
                DISK_BATCH_OS,
                size_gb=64,
                state="Reserved",  # its VM is deallocated
                sku="StandardSSD_LRS",
                created="2025-06-10T10:00:00+00:00",
                managed_by=VM_BATCH,
            ),
        ],
        "nextLink": f"{base}{disks_path(SUB)}?api-version={COMPUTE_DISKS_API}&$skiptoken=cGFnZTI%3D",
    }


def disks_page2() -> dict[str, Any]:
    return {
        "value": [
            _disk(
                DISK_ORPHAN,
                size_gb=512,
                state="Unattached",
                sku="Premium_LRS",
                created="2024-11-20T09:30:00+00:00",
                ownership="2026-08-14T16:45:12.5+00:00",
                tags={"team": "data", "env": "old"},
            ),
            _disk(
                DISK_BATCH_DATA,
                size_gb=256,
                state="Reserved",
                sku="Standard_LRS",
                created="2025-06-10T10:05:00+00:00",
                managed_by=VM_BATCH,
            ),
        ]
    }


def _snapshot(rid: str, source: str, created: str) -> dict[str, Any]:
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": "Microsoft.Compute/snapshots",
        "location": "westeurope",
        "tags": {"purpose": "backup"},
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "osType": "Linux",
            "creationData": {"createOption": "Copy", "sourceResourceId": source},
            "diskSizeGB": 512,
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "incremental": False,
            "timeCreated": created,
            "provisioningState": "Succeeded",
        },
    }


def snapshots() -> dict[str, Any]:
    return {
        "value": [
            _snapshot(SNAP_OF_ORPHAN, DISK_ORPHAN, "2026-01-05T02:00:00+00:00"),
            _snapshot(SNAP_OF_DELETED, DELETED_DISK, "2025-02-01T02:00:00+00:00"),
        ]
    }


def _vm(rid: str, *, size: str, os_disk: str, data_disks: list[str], nic: str, created: str) -> dict[str, Any]:
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": "Microsoft.Compute/virtualMachines",
        "location": "westeurope",
        "tags": {"team": rid.rsplit("/", 1)[1].split("-")[1]},
        "properties": {
            "vmId": "0f47b100-583c-48e3-a4c0-9d1b2c3e4f50",
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "imageReference": {
                    "publisher": "Canonical",
                    "offer": "ubuntu-24_04-lts",
                    "sku": "server",
                    "version": "latest",
                },
                "osDisk": {
                    "osType": "Linux",
                    "name": os_disk.rsplit("/", 1)[1],
                    "createOption": "FromImage",
                    "caching": "ReadWrite",
                    "managedDisk": {"storageAccountType": "Premium_LRS", "id": os_disk},
                    "diskSizeGB": 30,
                },
                "dataDisks": [
                    {
                        "lun": i,
                        "name": d.rsplit("/", 1)[1],
                        "createOption": "Attach",
                        "caching": "None",
                        "managedDisk": {"storageAccountType": "Standard_LRS", "id": d},
                        "diskSizeGB": 256,
                    }
                    for i, d in enumerate(data_disks)
                ],
            },
            "osProfile": {"computerName": rid.rsplit("/", 1)[1], "adminUsername": "azureuser"},
            "networkProfile": {"networkInterfaces": [{"id": nic}]},
            "provisioningState": "Succeeded",
            "timeCreated": created,
        },
    }


def vms_page1(base: str) -> dict[str, Any]:
    vm = _vm(
        VM_WEB,
        size="Standard_D2s_v5",
        os_disk=DISK_WEB_OS,
        data_disks=[],
        nic=NIC_WEB,
        created="2025-03-02T08:15:00+00:00",
    )
    return {
        "value": [vm],
        "nextLink": f"{base}{vms_path(SUB)}?api-version={COMPUTE_VM_API}&$skiptoken=dm0tcGFnZTI%3D",
    }


def vms_page2() -> dict[str, Any]:
    vm = _vm(
        VM_BATCH,
        size="Standard_E8s_v5",
        os_disk=DISK_BATCH_OS,
        data_disks=[DISK_BATCH_DATA],
        nic=NIC_BATCH,
        created="2025-06-10T10:00:00+00:00",
    )
    return {"value": [vm]}


def _instance_view(power: str, display: str, provisioned: str) -> dict[str, Any]:
    return {
        "platformUpdateDomain": 1,
        "platformFaultDomain": 1,
        "computerName": "vm",
        "osName": "ubuntu",
        "osVersion": "24.04",
        "statuses": [
            {
                "code": "ProvisioningState/succeeded",
                "level": "Info",
                "displayStatus": "Provisioning succeeded",
                "time": provisioned,
            },
            {"code": f"PowerState/{power}", "level": "Info", "displayStatus": display},
        ],
    }


def instance_view_running() -> dict[str, Any]:
    return _instance_view("running", "VM running", "2026-11-20T06:00:00.5+00:00")


def instance_view_deallocated() -> dict[str, Any]:
    return _instance_view("deallocated", "VM deallocated", "2026-09-30T18:20:41.7+00:00")


def _public_ip(
    rid: str, *, address: str, ip_configuration: str | None = None, nat_gateway: str | None = None
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "resourceGuid": "5c2a1e7d-3b4f-4a6e-9d8c-7b6a5f4e3d2c",
        "ipAddress": address,
        "publicIPAddressVersion": "IPv4",
        "publicIPAllocationMethod": "Static",
        "idleTimeoutInMinutes": 4,
        "ipTags": [],
    }
    if ip_configuration:
        props["ipConfiguration"] = {"id": ip_configuration}
    if nat_gateway:
        props["natGateway"] = {"id": nat_gateway}
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": "Microsoft.Network/publicIPAddresses",
        "location": "westeurope",
        "etag": 'W/"6b0d5d1c-7e0a-4b27-9d1e-8d0e1f2a3b4c"',
        "tags": {},
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": props,
    }


def public_ips() -> dict[str, Any]:
    return {
        "value": [
            _public_ip(PIP_WEB, address="20.61.10.4", ip_configuration=f"{NIC_WEB}/ipConfigurations/ipconfig1"),
            _public_ip(PIP_IDLE, address="20.61.10.99"),
            _public_ip(
                PIP_NAT,
                address="20.61.10.50",
                nat_gateway=_rid(SUB, "rg-net", "Microsoft.Network/natGateways", "nat-egress"),
            ),
        ]
    }


def _nic(rid: str, *, mac: str, vm: str | None = None, private_endpoint: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "ipConfigurations": [
            {
                "name": "ipconfig1",
                "id": f"{rid}/ipConfigurations/ipconfig1",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAddress": "10.0.0.4",
                    "privateIPAllocationMethod": "Dynamic",
                    "subnet": {"id": _rid(SUB, "rg-net", "Microsoft.Network/virtualNetworks", "vnet-main/subnets/app")},
                    "primary": True,
                    "privateIPAddressVersion": "IPv4",
                },
            }
        ],
        "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
        "macAddress": mac,
        "enableAcceleratedNetworking": False,
        "enableIPForwarding": False,
        "primary": True,
    }
    if vm:
        props["virtualMachine"] = {"id": vm}
    if private_endpoint:
        props["privateEndpoint"] = {"id": private_endpoint}
    return {
        "id": rid,
        "name": rid.rsplit("/", 1)[1],
        "type": "Microsoft.Network/networkInterfaces",
        "location": "westeurope",
        "etag": 'W/"1c2d3e4f-0000-4000-8000-5a6b7c8d9e0f"',
        "tags": {"team": "net"},
        "properties": props,
    }


def nics_page1(base: str) -> dict[str, Any]:
    return {
        "value": [
            _nic(NIC_WEB, mac="00-0D-3A-1B-C7-21", vm=VM_WEB),
            _nic(NIC_BATCH, mac="00-0D-3A-1B-C7-22", vm=VM_BATCH),
        ],
        "nextLink": f"{base}{nics_path(SUB)}?api-version={NETWORK_API}&$skiptoken=bmljLXBhZ2Uy",
    }


def nics_page2() -> dict[str, Any]:
    return {
        "value": [
            _nic(
                NIC_PE,
                mac="",
                private_endpoint=_rid(SUB, "rg-data", "Microsoft.Network/privateEndpoints", "pe-sql"),
            ),
            _nic(NIC_ORPHAN, mac="00-0D-3A-1B-C7-99"),
        ]
    }


EMPTY_LIST: dict[str, Any] = {"value": []}
