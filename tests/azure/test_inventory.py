"""The Azure inventory collector against a loopback server answering as the REST reference documents.

Responses follow the api-versions the installed SDKs send (see arm_responses.py): Compute "Disks -
List" and "Snapshots - List" 2026-03-02, "Virtual Machines - List All" and "Instance View" 2026-04-01
(azure-mgmt-compute 39.0.0), Network "Public IP Addresses - List All" and "Network Interfaces - List
All" 2026-03-01 (azure-mgmt-network 33.1.0). The real SDK clients page through ``nextLink`` themselves.
``enforce_https=False`` is passed per call, as azure-core requires for bearer tokens over plain http.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.azure.inventory import collect_azure_inventory
from spendscope.errors import CollectorError, CredentialsExpired
from spendscope.warehouse.db import open_warehouse
from spendscope.warehouse.inventory import load_inventory
from tests.azure import arm_responses as arm

FAKE_TOKEN = "fake-token-not-a-jwt-9876543210"
OBSERVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class StaticCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(FAKE_TOKEN, int(time.time()) + 3600)


def collect(httpserver: HTTPServer, subscriptions: list[str], **kwargs: Any) -> Any:
    return collect_azure_inventory(
        subscriptions=subscriptions,
        credential=StaticCredential(),
        observed_at=OBSERVED,
        base_url=httpserver.url_for(""),
        call_options={"enforce_https": False},
        **kwargs,
    )


def serve(httpserver: HTTPServer, path: str, api: str, body: dict[str, Any], skiptoken: str | None = None) -> None:
    query = {"api-version": api} if skiptoken is None else {"api-version": api, "$skiptoken": skiptoken}
    httpserver.expect_request(path, method="GET", query_string=query).respond_with_json(body)


def serve_subscriptions(httpserver: HTTPServer) -> None:
    b = httpserver.url_for("").rstrip("/")
    serve(httpserver, arm.disks_path(arm.SUB), arm.COMPUTE_DISKS_API, arm.disks_page1(b))
    serve(httpserver, arm.disks_path(arm.SUB), arm.COMPUTE_DISKS_API, arm.disks_page2(), skiptoken="cGFnZTI=")
    serve(httpserver, arm.snapshots_path(arm.SUB), arm.COMPUTE_DISKS_API, arm.snapshots())
    serve(httpserver, arm.vms_path(arm.SUB), arm.COMPUTE_VM_API, arm.vms_page1(b))
    serve(httpserver, arm.vms_path(arm.SUB), arm.COMPUTE_VM_API, arm.vms_page2(), skiptoken="dm0tcGFnZTI=")
    serve(httpserver, arm.instance_view_path(arm.VM_WEB), arm.COMPUTE_VM_API, arm.instance_view_running())
    serve(httpserver, arm.instance_view_path(arm.VM_BATCH), arm.COMPUTE_VM_API, arm.instance_view_deallocated())
    serve(httpserver, arm.public_ips_path(arm.SUB), arm.NETWORK_API, arm.public_ips())
    serve(httpserver, arm.nics_path(arm.SUB), arm.NETWORK_API, arm.nics_page1(b))
    serve(httpserver, arm.nics_path(arm.SUB), arm.NETWORK_API, arm.nics_page2(), skiptoken="bmljLXBhZ2Uy")
    for path, api in [
        (arm.disks_path(arm.SUB2), arm.COMPUTE_DISKS_API),
        (arm.snapshots_path(arm.SUB2), arm.COMPUTE_DISKS_API),
        (arm.vms_path(arm.SUB2), arm.COMPUTE_VM_API),
        (arm.public_ips_path(arm.SUB2), arm.NETWORK_API),
        (arm.nics_path(arm.SUB2), arm.NETWORK_API),
    ]:
        serve(httpserver, path, api, arm.EMPTY_LIST)


def test_inventory_finds_exactly_the_idle_resources(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_subscriptions(httpserver)
    table = collect(httpserver, [arm.SUB, arm.SUB2])
    httpserver.check_assertions()
    assert table.schema == OUTPUT_SCHEMA

    sent = [r for r, _ in httpserver.log]
    # SUB: disks 2 pages, snapshots 1, VMs 2 pages, 2 instance views, public IPs 1, NICs 2 pages; SUB2: 5 lists
    assert len(sent) == 2 + 1 + 2 + 2 + 1 + 2 + 5
    assert all(r.method == "GET" and r.headers["Authorization"] == f"Bearer {FAKE_TOKEN}" for r in sent)
    assert f"{arm.disks_path(arm.SUB)}?api-version=2026-03-02&$skiptoken=cGFnZTI%3D" in [r.full_path for r in sent]

    conn = open_warehouse(tmp_path / "w.duckdb")
    try:
        assert load_inventory(conn, table, source="azure-inventory:test") == 4 + 2 + 2 + 3 + 4
        idle = conn.execute(
            "SELECT resource_type, resource_id, state FROM inventory "
            "WHERE state IN ('unattached', 'unassociated', 'detached', 'deallocated') ORDER BY resource_type"
        ).fetchall()
        assert idle == [
            ("managed_disk", arm.DISK_ORPHAN, "unattached"),
            ("network_interface", arm.NIC_ORPHAN, "detached"),
            ("public_ip", arm.PIP_IDLE, "unassociated"),
            ("virtual_machine", arm.VM_BATCH, "deallocated"),
        ]

        disk = conn.execute(
            "SELECT provider, account_id, region, size, size_unit, created_at, last_used_at, attached_to, "
            "tags->>'team', tags->>'env', details->>'sku', details->>'resource_group', details->>'disk_state' "
            "FROM inventory WHERE resource_id = $id",
            {"id": arm.DISK_ORPHAN},
        ).fetchone()
        assert disk == (
            "azure",
            arm.SUB,
            "westeurope",
            Decimal("512.000000"),
            "GiB",
            datetime(2024, 11, 20, 9, 30, tzinfo=UTC),
            datetime(2026, 8, 14, 16, 45, 12, 500000, tzinfo=UTC),  # lastOwnershipUpdateTime
            None,
            "data",
            "old",
            "Premium_LRS",
            "rg-old",
            "Unattached",
        )

        disk_states = conn.execute(
            "SELECT state, count(*) FROM inventory WHERE resource_type = 'managed_disk' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert disk_states == [("attached", 1), ("reserved", 2), ("unattached", 1)]

        vm = conn.execute(
            "SELECT last_used_at, details->>'vm_size', CAST(details->'attached_disks' AS VARCHAR[]), "
            "details->>'resource_group', tags->>'team' FROM inventory WHERE resource_id = $id",
            {"id": arm.VM_BATCH},
        ).fetchone()
        assert vm == (
            datetime(2026, 9, 30, 18, 20, 41, 700000, tzinfo=UTC),  # the deallocation (last provisioning op)
            "Standard_E8s_v5",
            [arm.DISK_BATCH_OS, arm.DISK_BATCH_DATA],
            "rg-batch",
            "batch",
        )
        running = conn.execute(
            "SELECT state, last_used_at FROM inventory WHERE resource_id = $id", {"id": arm.VM_WEB}
        ).fetchone()
        assert running == ("running", None)

        snapshots = conn.execute(
            "SELECT resource_id, CAST(details->>'source_disk_exists' AS BOOLEAN), size FROM inventory "
            "WHERE resource_type = 'disk_snapshot' ORDER BY resource_id"
        ).fetchall()
        assert snapshots == [
            (arm.SNAP_OF_ORPHAN, True, Decimal("512.000000")),  # snap-left-behind: its disk is listed
            (arm.SNAP_OF_DELETED, False, Decimal("512.000000")),
        ]

        in_use = conn.execute(
            "SELECT resource_id, state, attached_to FROM inventory "
            "WHERE resource_type IN ('public_ip', 'network_interface') AND state IN ('associated', 'attached') "
            "ORDER BY resource_id"
        ).fetchall()
        pe = f"/subscriptions/{arm.SUB}/resourceGroups/rg-data/providers/Microsoft.Network/privateEndpoints/pe-sql"
        nat = f"/subscriptions/{arm.SUB}/resourceGroups/rg-net/providers/Microsoft.Network/natGateways/nat-egress"
        assert in_use == [
            (arm.NIC_BATCH, "attached", arm.VM_BATCH),
            (arm.NIC_PE, "attached", pe),  # a private endpoint's NIC is not detached
            (arm.PIP_NAT, "associated", nat),  # a NAT gateway's IP is not idle
            (arm.NIC_WEB, "attached", arm.VM_WEB),
            (arm.PIP_WEB, "associated", f"{arm.NIC_WEB}/ipConfigurations/ipconfig1"),
        ]

        per_observation = conn.execute(
            "SELECT source, observed_at, account_id, count(*) FROM inventory GROUP BY ALL"
        ).fetchall()
        assert per_observation == [("azure-inventory:test", OBSERVED, arm.SUB, 15)]  # SUB2 has no resources
    finally:
        conn.close()


def test_arm_429_with_retry_after_is_retried_by_the_sdk(httpserver: HTTPServer) -> None:
    """ARM's own throttling answers Retry-After, which azure-core's default policy honours for GETs."""
    times: list[float] = []

    def throttled(_: Request) -> Response:
        times.append(time.monotonic())
        body = {"error": {"code": "TooManyRequests", "message": "The request is being throttled."}}
        return Response(json.dumps(body), status=429, headers={"Retry-After": "1"}, content_type="application/json")

    def answered(_: Request) -> Response:
        times.append(time.monotonic())
        return Response(json.dumps(arm.EMPTY_LIST), content_type="application/json")

    httpserver.expect_ordered_request(arm.disks_path(arm.SUB2)).respond_with_handler(throttled)
    httpserver.expect_ordered_request(arm.disks_path(arm.SUB2)).respond_with_handler(answered)
    for path in (arm.snapshots_path(arm.SUB2), arm.vms_path(arm.SUB2)):
        httpserver.expect_ordered_request(path).respond_with_json(arm.EMPTY_LIST)
    for path in (arm.public_ips_path(arm.SUB2), arm.nics_path(arm.SUB2)):
        httpserver.expect_ordered_request(path).respond_with_json(arm.EMPTY_LIST)
    table = collect(httpserver, [arm.SUB2])
    httpserver.check_assertions()
    assert table.num_rows == 0
    assert times[1] - times[0] >= 1.0


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            401,
            {"error": {"code": "ExpiredAuthenticationToken", "message": "The access token has expired."}},
            CredentialsExpired,
        ),
        (
            403,
            {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization."}},
            CollectorError,
        ),
    ],
)
def test_errors_name_the_call_and_subscription(
    httpserver: HTTPServer, status: int, body: dict[str, Any], error: type[Exception]
) -> None:
    for path in (arm.disks_path(arm.SUB2), arm.snapshots_path(arm.SUB2), arm.vms_path(arm.SUB2)):
        httpserver.expect_request(path).respond_with_json(arm.EMPTY_LIST)
    httpserver.expect_request(arm.public_ips_path(arm.SUB2)).respond_with_json(body, status=status)
    with pytest.raises(error) as caught:
        collect(httpserver, [arm.SUB2])
    assert type(caught.value) is error
    message = str(caught.value)
    assert message.startswith(f"network.public_ip_addresses.list_all {arm.SUB2}: HTTP {status} {body['error']['code']}")
    assert "\n" not in message and FAKE_TOKEN not in message
