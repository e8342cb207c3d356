"""Canned Google Cloud REST bodies, shaped as the REST references document them.

- Cloud Billing API v1 (cloudbilling.googleapis.com): ``billingAccounts.projects.list``
  (ListProjectBillingInfoResponse: projectBillingInfo[], nextPageToken), ``services.list``
  (ListServicesResponse), ``services.skus.list`` (ListSkusResponse: skus[] with category,
  serviceRegions, pricingInfo[].pricingExpression.tieredRates[].unitPrice as google.type.Money:
  int64 ``units`` as a JSON string, ``nanos`` a number), and the JSON error body
  ``{"error": {"code", "message", "status"}}``.
- Compute Engine API v1: ``disks.aggregatedList``, ``addresses.aggregatedList``,
  ``instances.aggregatedList`` (``items`` keyed by scope, an empty scope carrying a
  ``NO_RESULTS_ON_PAGE`` warning; ``nextPageToken``), ``snapshots.list`` (``items[]``), and the
  Compute error body ``{"error": {"code", "message", "errors": [{domain, reason, message}]}}``.
  Compute ids are uint64 and sizes int64, both JSON strings; timestamps RFC 3339 with an offset.
"""

from __future__ import annotations

from typing import Any

from google.auth import credentials as google_credentials

BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
COMPUTE_SERVICE = "6F81-5844-456A"
NETWORK_SERVICE = "E505-1604-58F8"
PROJECT = "acme-prod"
COMPUTE = "https://www.googleapis.com/compute/v1/projects/acme-prod"


# --- Cloud Billing: projects of a billing account -------------------------------------------------


def _project(project_id: str, *, enabled: bool) -> dict[str, Any]:
    return {
        "name": f"projects/{project_id}/billingInfo",
        "projectId": project_id,
        # A project whose billing is disabled keeps no billing account name.
        "billingAccountName": f"billingAccounts/{BILLING_ACCOUNT}" if enabled else "",
        "billingEnabled": enabled,
    }


PROJECTS_PAGE_1 = {
    "projectBillingInfo": [_project("acme-prod", enabled=True), _project("acme-idle", enabled=True)],
    "nextPageToken": "cHJvamVjdHMtMg",
}
PROJECTS_PAGE_2 = {"projectBillingInfo": [_project("acme-sandbox", enabled=False)]}

SERVICES = {
    "services": [
        {
            "name": f"services/{COMPUTE_SERVICE}",
            "serviceId": COMPUTE_SERVICE,
            "displayName": "Compute Engine",
            "businessEntityName": "businessEntities/GCP",
        },
        {
            "name": f"services/{NETWORK_SERVICE}",
            "serviceId": NETWORK_SERVICE,
            "displayName": "Networking",
            "businessEntityName": "businessEntities/GCP",
        },
    ],
    "nextPageToken": "",
}


def _sku(
    sku_id: str,
    description: str,
    *,
    family: str,
    group: str,
    unit: str,
    unit_description: str,
    tiers: list[tuple[float, str, int]],
    regions: list[str],
) -> dict[str, Any]:
    return {
        "name": f"services/{COMPUTE_SERVICE}/skus/{sku_id}",
        "skuId": sku_id,
        "description": description,
        "category": {
            "serviceDisplayName": "Compute Engine",
            "resourceFamily": family,
            "resourceGroup": group,
            "usageType": "OnDemand",
        },
        "serviceRegions": regions,
        "pricingInfo": [
            {
                "summary": "",
                "pricingExpression": {
                    "usageUnit": unit,
                    "displayQuantity": 1,
                    "tieredRates": [
                        {
                            "startUsageAmount": start,
                            "unitPrice": {"currencyCode": "USD", "units": units, "nanos": nanos},
                        }
                        for start, units, nanos in tiers
                    ],
                    "usageUnitDescription": unit_description,
                    "baseUnit": "s" if unit == "h" else "By",
                    "baseUnitDescription": "second" if unit == "h" else "byte",
                    "baseUnitConversionFactor": 3600 if unit == "h" else 1073741824,
                },
                "currencyConversionRate": 1,
                "effectiveTime": "2026-11-25T06:52:08.165Z",
            }
        ],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL", "regions": regions},
    }


SKU_CORE = "2737-2D33-D986"  # N1 core: 0 units + 31,611,000 nanos = 0.031611 USD per hour
SKU_PD = "D973-5D65-BAB2"  # PD capacity: 0 units + 40,000,000 nanos = 0.04 USD per GiB-month
SKU_EGRESS = "9DE9-9092-B3BC"  # egress tiers: 0 → 0, 1 → 0.12, 1024 → 0.11, 10240 → 0.08 USD per GiB
SKU_INTERCONNECT = "E7A1-0C2B-11F3"  # 18 units + 50,000,000 nanos = 18.05 USD per hour

SKUS_PAGE_1 = {
    "skus": [
        _sku(
            SKU_CORE,
            "N1 Predefined Instance Core running in Americas",
            family="Compute",
            group="N1Standard",
            unit="h",
            unit_description="hour",
            tiers=[(0, "0", 31611000)],
            regions=["us-central1", "us-east1"],
        ),
        _sku(
            SKU_PD,
            "Storage PD Capacity",
            family="Storage",
            group="PDStandard",
            unit="GiBy.mo",
            unit_description="gibibyte month",
            tiers=[(0, "0", 40000000)],
            regions=["us-central1"],
        ),
    ],
    "nextPageToken": "c2t1cy0y",
}
SKUS_PAGE_2 = {
    "skus": [
        _sku(
            SKU_EGRESS,
            "Network Internet Egress from Americas to Americas",
            family="Network",
            group="PremiumInternetEgress",
            unit="GiBy",
            unit_description="gibibyte",
            tiers=[(0, "0", 0), (1, "0", 120000000), (1024, "0", 110000000), (10240, "0", 80000000)],
            regions=["us-central1"],
        ),
        _sku(
            SKU_INTERCONNECT,
            "Dedicated Interconnect 100 Gbps circuit",
            family="Network",
            group="Interconnect",
            unit="h",
            unit_description="hour",
            tiers=[(0, "18", 50000000)],
            regions=["us-central1"],
        ),
    ],
    "nextPageToken": "",
}


def billing_error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


# --- Compute Engine ------------------------------------------------------------------------------


def _no_results(scope: str) -> dict[str, Any]:
    return {
        "warning": {
            "code": "NO_RESULTS_ON_PAGE",
            "message": f"There are no results for scope '{scope}' on this page.",
            "data": [{"key": "scope", "value": scope}],
        }
    }


def _disk(zone_scope: str, name: str, disk_id: str, size_gb: str, users: list[str], **extra: Any) -> dict[str, Any]:
    location_key = "zone" if zone_scope.startswith("zones/") else "region"
    return {
        "kind": "compute#disk",
        "id": disk_id,
        "creationTimestamp": "2026-06-01T08:00:00.000-07:00",
        "name": name,
        "sizeGb": size_gb,
        location_key: f"{COMPUTE}/{zone_scope}",
        "status": "READY",
        "selfLink": f"{COMPUTE}/{zone_scope}/disks/{name}",
        "type": f"{COMPUTE}/{zone_scope}/diskTypes/pd-balanced",
        "users": users,
        "labelFingerprint": "42WmSpB8rSM=",
        **extra,
    }


WEB_1 = f"{COMPUTE}/zones/us-central1-a/instances/web-1"
BATCH_1 = f"{COMPUTE}/zones/us-east1-b/instances/batch-1"

DISKS_PAGE_1 = {
    "kind": "compute#diskAggregatedList",
    "id": "projects/acme-prod/aggregated/disks",
    "items": {
        "zones/us-central1-a": {
            "disks": [
                _disk("zones/us-central1-a", "web-1", "1001", "20", [WEB_1], labels={"team": "web"}),
                # The orphan: no users since it was detached on 2026-10-02 09:30 -07:00 = 16:30 UTC.
                _disk(
                    "zones/us-central1-a",
                    "old-data",
                    "1002",
                    "500",
                    [],
                    labels={"team": "data", "env": "prod"},
                    lastAttachTimestamp="2026-06-01T08:05:00.000-07:00",
                    lastDetachTimestamp="2026-10-02T09:30:00.000-07:00",
                ),
            ]
        },
        "zones/europe-west1-b": _no_results("zones/europe-west1-b"),
    },
    "nextPageToken": "ZGlza3MtMg",
    "selfLink": f"{COMPUTE}/aggregated/disks",
}
DISKS_PAGE_2 = {
    "kind": "compute#diskAggregatedList",
    "id": "projects/acme-prod/aggregated/disks",
    "items": {
        "regions/us-central1": {
            "disks": [_disk("regions/us-central1", "ha-data", "1003", "200", [WEB_1])],
        },
        "zones/us-east1-b": {
            # Still attached, to a TERMINATED instance: not an unattached disk.
            "disks": [_disk("zones/us-east1-b", "batch-1", "1004", "50", [BATCH_1])],
        },
    },
    "selfLink": f"{COMPUTE}/aggregated/disks",
}


def _address(scope: str, name: str, ip: str, status: str, users: list[str], **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "compute#address",
        "id": str(5_000_000 + sum(map(ord, name))),
        "creationTimestamp": "2026-05-01T00:00:00.000-07:00",
        "name": name,
        "address": ip,
        "status": status,
        "selfLink": f"{COMPUTE}/{scope}/addresses/{name}",
        "users": users,
        **extra,
    }
    if scope.startswith("regions/"):
        body["region"] = f"{COMPUTE}/{scope}"
    return body


ADDRESSES_PAGE_1 = {
    "kind": "compute#addressAggregatedList",
    "items": {
        "regions/us-central1": {
            "addresses": [
                _address(
                    "regions/us-central1",
                    "web-ip",
                    "34.1.2.3",
                    "IN_USE",
                    [WEB_1],
                    addressType="EXTERNAL",
                    networkTier="PREMIUM",
                ),
                # The orphan: an external address held but used by nothing.
                _address(
                    "regions/us-central1",
                    "spare-ip",
                    "34.1.2.4",
                    "RESERVED",
                    [],
                    addressType="EXTERNAL",
                    networkTier="PREMIUM",
                    labels={"team": "web"},
                ),
            ]
        },
        "regions/europe-west1": _no_results("regions/europe-west1"),
    },
    "nextPageToken": "YWRkcmVzc2VzLTI",
}
ADDRESSES_PAGE_2 = {
    "kind": "compute#addressAggregatedList",
    "items": {
        "global": {
            "addresses": [
                _address(
                    "global",
                    "lb-ip",
                    "34.120.0.1",
                    "IN_USE",
                    [f"{COMPUTE}/global/forwardingRules/lb-fr"],
                    addressType="EXTERNAL",
                ),
            ]
        },
        "regions/us-central1": {
            # Internal and reserved: not billed, not collected.
            "addresses": [
                _address("regions/us-central1", "db-internal", "10.0.0.5", "RESERVED", [], addressType="INTERNAL")
            ]
        },
    },
}


def _snapshot(name: str, source_disk: str, source_disk_id: str) -> dict[str, Any]:
    return {
        "kind": "compute#snapshot",
        "id": str(5_000_000 + sum(map(ord, name))),
        "creationTimestamp": "2026-07-01T02:00:00.000-07:00",
        "name": name,
        "status": "READY",
        "sourceDisk": source_disk,
        "sourceDiskId": source_disk_id,
        "diskSizeGb": "100",
        "storageBytes": "21474836480",
        "storageLocations": ["us"],
        "selfLink": f"{COMPUTE}/global/snapshots/{name}",
        "labels": {"team": "data"},
    }


SNAPSHOTS = {
    "kind": "compute#snapshotList",
    "items": [
        _snapshot("web-1-daily", f"{COMPUTE}/zones/us-central1-a/disks/web-1", "1001"),
        # The orphan: its disk (id 999) is gone from every zone.
        _snapshot("legacy-db", f"{COMPUTE}/zones/us-central1-a/disks/legacy-db", "999"),
    ],
    "selfLink": f"{COMPUTE}/global/snapshots",
}


def _instance(zone: str, name: str, status: str, disks: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "compute#instance",
        "id": str(5_000_000 + sum(map(ord, name))),
        "creationTimestamp": "2026-04-01T00:00:00.000-07:00",
        "name": name,
        "machineType": f"{COMPUTE}/zones/{zone}/machineTypes/e2-standard-4",
        "status": status,
        "zone": f"{COMPUTE}/zones/{zone}",
        "disks": [
            {"kind": "compute#attachedDisk", "type": "PERSISTENT", "mode": "READ_WRITE", "source": d, "boot": i == 0}
            for i, d in enumerate(disks)
        ],
        "selfLink": f"{COMPUTE}/zones/{zone}/instances/{name}",
        **extra,
    }


INSTANCES = {
    "kind": "compute#instanceAggregatedList",
    "items": {
        "zones/us-central1-a": {
            "instances": [
                _instance(
                    "us-central1-a",
                    "web-1",
                    "RUNNING",
                    [f"{COMPUTE}/zones/us-central1-a/disks/web-1", f"{COMPUTE}/regions/us-central1/disks/ha-data"],
                    labels={"team": "web"},
                )
            ]
        },
        "zones/us-east1-b": {
            "instances": [
                # Stopped on 2026-11-01 10:00 -07:00 = 17:00 UTC.
                _instance(
                    "us-east1-b",
                    "batch-1",
                    "TERMINATED",
                    [f"{COMPUTE}/zones/us-east1-b/disks/batch-1"],
                    labels={"team": "batch"},
                    lastStopTimestamp="2026-11-01T10:00:00.000-07:00",
                )
            ]
        },
    },
}


def compute_error(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    }


# --- Credentials ---------------------------------------------------------------------------------


class StaticToken(google_credentials.Credentials):
    """A fixed bearer token. ``refresh`` keeps it, so after a 401 google-auth's retry sends it again
    and the API's second 401 reaches the client as Unauthenticated (a real expired token does that
    only when its refresh also fails, which ends in RefreshError)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def refresh(self, request: Any) -> None:
        return None
