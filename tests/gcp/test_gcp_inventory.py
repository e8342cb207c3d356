"""The Google Cloud inventory collector against a loopback server answering as the REST reference documents.

Responses follow the Compute Engine API v1 REST reference (see google_responses.py):
``GET /compute/v1/projects/{project}/aggregated/disks`` (two pages), ``…/aggregated/addresses`` (two
pages), ``…/aggregated/instances`` and ``…/global/snapshots``. The real google-cloud-compute clients
run with ``transport="rest"`` and page through ``nextPageToken`` themselves; the REST transport keeps
the http:// scheme of ``api_endpoint`` (compute sends no ``$alt`` query, unlike cloudbilling).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from pytest_httpserver import HTTPServer

from spendscope.collectors.aws.inventory import OUTPUT_SCHEMA
from spendscope.collectors.gcp.inventory import collect_gcp_inventory
from spendscope.errors import CollectorError, CredentialsExpired
from spendscope.warehouse.inventory import load_inventory
from tests.gcp import google_responses as g

TOKEN = "ya29.test-token-not-real-77"
OBSERVED = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
BASE = f"/compute/v1/projects/{g.PROJECT}"
FAST_RETRY = Retry(predicate=if_exception_type(gexc.TooManyRequests), initial=0.01, maximum=0.02, timeout=0.5)
NAME = f"//compute.googleapis.com/projects/{g.PROJECT}"


def expect_get(httpserver: HTTPServer, path: str, page_token: str | None = None) -> Any:
    return httpserver.expect_oneshot_request(
        path,
        method="GET",
        query_string="" if page_token is None else {"pageToken": page_token},
        headers={"Authorization": f"Bearer {TOKEN}", "X-Goog-Request-Params": f"project={g.PROJECT}"},
    )


def serve_project(httpserver: HTTPServer) -> None:
    expect_get(httpserver, f"{BASE}/aggregated/disks").respond_with_json(g.DISKS_PAGE_1)
    expect_get(httpserver, f"{BASE}/aggregated/disks", "ZGlza3MtMg").respond_with_json(g.DISKS_PAGE_2)
    expect_get(httpserver, f"{BASE}/aggregated/addresses").respond_with_json(g.ADDRESSES_PAGE_1)
    expect_get(httpserver, f"{BASE}/aggregated/addresses", "YWRkcmVzc2VzLTI").respond_with_json(g.ADDRESSES_PAGE_2)
    expect_get(httpserver, f"{BASE}/global/snapshots").respond_with_json(g.SNAPSHOTS)
    expect_get(httpserver, f"{BASE}/aggregated/instances").respond_with_json(g.INSTANCES)


def collect(httpserver: HTTPServer) -> Any:
    return collect_gcp_inventory(
        projects=[g.PROJECT],
        credentials=g.StaticToken(TOKEN),
        observed_at=OBSERVED,
        client_options={"api_endpoint": httpserver.url_for("").rstrip("/")},
        retry=FAST_RETRY,
    )


def test_inventory_pages_and_rows(httpserver: HTTPServer) -> None:
    serve_project(httpserver)
    table = collect(httpserver)

    httpserver.check_assertions()
    assert len(httpserver.log) == 6  # 2 + 2 aggregated pages, snapshots, instances
    assert table.schema == OUTPUT_SCHEMA
    rows = {r["resource_id"]: r for r in table.to_pylist()}
    # 4 disks + 3 external addresses (the internal one is skipped) + 2 snapshots + 2 instances
    assert len(rows) == 11
    assert not any("db-internal" in rid for rid in rows)

    disk = rows[f"{NAME}/zones/us-central1-a/disks/old-data"]
    assert disk["provider"] == "gcp" and disk["account_id"] == g.PROJECT and disk["region"] == "us-central1"
    assert disk["state"] == "unattached" and disk["attached_to"] is None
    assert disk["size"] == Decimal(500) and disk["size_unit"] == "GiB"
    assert disk["created_at"] == datetime(2026, 6, 1, 15, 0, tzinfo=UTC)  # 08:00 -07:00
    assert disk["last_used_at"] == datetime(2026, 10, 2, 16, 30, tzinfo=UTC)  # 09:30 -07:00
    assert json.loads(disk["tags"]) == {"team": "data", "env": "prod"}
    assert json.loads(disk["details"])["zone"] == "us-central1-a"
    assert json.loads(disk["details"])["disk_type"] == "pd-balanced"

    regional = rows[f"{NAME}/regions/us-central1/disks/ha-data"]
    assert regional["state"] == "attached"
    assert regional["attached_to"] == f"{NAME}/zones/us-central1-a/instances/web-1"
    assert json.loads(regional["details"])["zone"] is None

    batch = rows[f"{NAME}/zones/us-east1-b/instances/batch-1"]
    assert batch["state"] == "terminated" and batch["region"] == "us-east1"
    assert batch["last_used_at"] == datetime(2026, 11, 1, 17, 0, tzinfo=UTC)  # 10:00 -07:00
    assert json.loads(batch["details"])["attached_disks"] == [f"{NAME}/zones/us-east1-b/disks/batch-1"]
    assert json.loads(batch["details"])["machine_type"] == "e2-standard-4"

    lb = rows[f"{NAME}/global/addresses/lb-ip"]
    assert lb["region"] == "global" and lb["state"] == "in_use"
    assert all(r["observed_at"] == OBSERVED for r in rows.values())


def test_loaded_inventory_finds_exactly_the_orphans(httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection) -> None:
    serve_project(httpserver)
    assert load_inventory(wh, collect(httpserver), source="gcp.inventory") == 11

    unattached = wh.execute(
        "SELECT resource_id, size FROM inventory WHERE provider = 'gcp' AND resource_type = 'gce_disk' "
        "AND state = 'unattached'"
    ).fetchall()
    assert unattached == [(f"{NAME}/zones/us-central1-a/disks/old-data", Decimal(500))]

    reserved = wh.execute(
        "SELECT resource_id, details->>'address' FROM inventory WHERE resource_type = 'gce_address' "
        "AND state = 'reserved' AND attached_to IS NULL"
    ).fetchall()
    assert reserved == [(f"{NAME}/regions/us-central1/addresses/spare-ip", "34.1.2.4")]

    terminated = wh.execute(
        "SELECT i.resource_id, d.resource_id FROM inventory i "
        "JOIN inventory d ON d.resource_type = 'gce_disk' AND d.attached_to = i.resource_id "
        "WHERE i.resource_type = 'gce_instance' AND i.state = 'terminated'"
    ).fetchall()
    assert terminated == [(f"{NAME}/zones/us-east1-b/instances/batch-1", f"{NAME}/zones/us-east1-b/disks/batch-1")]

    orphaned = wh.execute(
        "SELECT resource_id, created_at, details->>'source_disk' FROM inventory "
        "WHERE resource_type = 'gce_snapshot' AND NOT CAST(details->>'source_disk_exists' AS BOOLEAN)"
    ).fetchall()
    assert orphaned == [
        (
            f"{NAME}/global/snapshots/legacy-db",
            datetime(2026, 7, 1, 9, 0, tzinfo=UTC),  # 02:00 -07:00
            f"{NAME}/zones/us-central1-a/disks/legacy-db",
        )
    ]
    labelled = wh.execute(
        "SELECT count(*) FROM inventory WHERE provider = 'gcp' AND (tags->>'team') = $team", {"team": "web"}
    ).fetchone()
    assert labelled == (3,)  # disk web-1, address spare-ip, instance web-1


def test_403_names_the_call_and_project(httpserver: HTTPServer) -> None:
    message = f"Required 'compute.disks.list' permission for 'projects/{g.PROJECT}'"
    expect_get(httpserver, f"{BASE}/aggregated/disks").respond_with_json(
        g.compute_error(403, "forbidden", message), status=403
    )
    with pytest.raises(CollectorError) as info:
        collect(httpserver)
    assert type(info.value) is CollectorError
    assert str(info.value) == f"compute.disks.aggregatedList {g.PROJECT}: 403 Forbidden: {message}"


def test_401_on_a_later_page_is_credentials_expired(httpserver: HTTPServer) -> None:
    expect_get(httpserver, f"{BASE}/aggregated/disks").respond_with_json(g.DISKS_PAGE_1)
    httpserver.expect_request(f"{BASE}/aggregated/disks", query_string={"pageToken": "ZGlza3MtMg"}).respond_with_json(
        g.compute_error(401, "authError", "Invalid Credentials"), status=401
    )
    with pytest.raises(CredentialsExpired) as info:
        collect(httpserver)
    assert str(info.value) == f"compute.disks.aggregatedList {g.PROJECT}: 401 Unauthorized: Invalid Credentials"
    assert TOKEN not in str(info.value) and "\n" not in str(info.value)
