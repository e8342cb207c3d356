"""The Cost Management Query collector against a loopback server answering as the REST reference documents.

Responses follow "Query - Usage", api-version 2025-03-01 (what azure-mgmt-costmanagement 5.0.0 sends;
see arm_responses.py). The real CostManagementClient runs against pytest-httpserver: its pipeline
(bearer token, retry policy, JSON) is the code under test together with ours. ``enforce_https=False``
is passed per call, as azure-core requires for bearer tokens over plain http, and only here.
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
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import RetryPolicy
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spendscope.collectors.azure.query import AzureCostQuery
from spendscope.collectors.azure.retry import CostManagementRetryPolicy
from spendscope.errors import CollectorError, CredentialsExpired, Throttled
from spendscope.pipeline import ingest
from spendscope.warehouse.db import open_warehouse
from tests.azure import arm_responses as arm

FAKE_TOKEN = "fake-token-not-a-jwt-0123456789"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # October 2026 is a closed month
SCOPE = f"/subscriptions/{arm.SUB}"
CALL = f"costmanagement.query.usage {SCOPE}"

EXPECTED_BODY = {
    "type": "ActualCost",
    "timeframe": "Custom",
    "timePeriod": {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T23:59:59Z"},
    "dataset": {
        "granularity": "Daily",
        "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
        "grouping": [{"type": "Dimension", "name": "ResourceId"}, {"type": "Dimension", "name": "ServiceName"}],
    },
}


class StaticCredential:
    """A TokenCredential (azure-core's protocol) handing out one fake token."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        assert scopes == ("https://management.azure.com/.default",)
        return AccessToken(FAKE_TOKEN, int(time.time()) + 3600)


class ExpiredCredential:
    """A credential whose refresh fails, as azure-identity's do when a secret or session has expired."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("AADSTS700082: The refresh token has expired due to inactivity.")


def source(httpserver: HTTPServer, **kwargs: Any) -> AzureCostQuery:
    kwargs.setdefault("credential", StaticCredential())
    kwargs.setdefault("retry_policy", CostManagementRetryPolicy(retry_backoff_factor=0.01, max_retry_after_s=5))
    return AzureCostQuery(
        SCOPE,
        base_url=httpserver.url_for(""),
        call_options={"enforce_https": False},
        now=lambda: NOW,
        **kwargs,
    )


def base(httpserver: HTTPServer) -> str:
    return httpserver.url_for("").rstrip("/")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


def serve_two_pages(httpserver: HTTPServer) -> None:
    """Page 1 without $skiptoken, page 2 with it; served as often as asked (ingest runs twice)."""
    page1 = arm.query_page1(base(httpserver))

    def handler(request: Request) -> Response:
        if request.args.get("$skiptoken") == arm.SKIPTOKEN:
            return json_response(arm.query_page2())
        return json_response(page1)

    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_handler(handler)


def test_request_contract_and_next_link(httpserver: HTTPServer) -> None:
    page1 = arm.query_page1(base(httpserver))
    httpserver.expect_ordered_request(
        arm.QUERY_PATH, method="POST", query_string={"api-version": arm.QUERY_API_VERSION}
    ).respond_with_json(page1)
    httpserver.expect_ordered_request(
        arm.QUERY_PATH,
        method="POST",
        query_string={"api-version": arm.QUERY_API_VERSION, "$skiptoken": arm.SKIPTOKEN},
    ).respond_with_json(arm.query_page2())
    collector = source(httpserver)
    try:
        request = collector.fetch("2026-10")
    finally:
        collector.close()
    httpserver.check_assertions()

    assert [p.file.path for p in request.plans] == [f"azure-query:{SCOPE}/2026-10"]
    assert (request.source, request.collector, request.provider) == (f"azure-query:{SCOPE}", "azure.query", "Microsoft")
    sent = [r for r, _ in httpserver.log]
    assert len(sent) == 2  # page 1 by query.usage, page 2 by following nextLink
    assert [r.full_path for r in sent] == [
        f"{arm.QUERY_PATH}?api-version=2025-03-01",
        f"{arm.QUERY_PATH}?api-version=2025-03-01&$skiptoken=AQAAAA%3D%3D",
    ]
    for r in sent:
        assert r.method == "POST"
        assert r.path == f"/subscriptions/{arm.SUB}/providers/Microsoft.CostManagement/query"
        assert r.headers["Authorization"] == f"Bearer {FAKE_TOKEN}"
        assert r.headers["Content-Type"].startswith("application/json")
        assert json.loads(r.get_data()) == EXPECTED_BODY  # the same body on every page
        assert len(json.loads(r.get_data())["dataset"]["grouping"]) == 2


def test_ingest_totals_are_estimated(httpserver: HTTPServer, tmp_path: Path) -> None:
    serve_two_pages(httpserver)
    conn = open_warehouse(tmp_path / "w.duckdb")
    try:
        result = ingest(conn, source(httpserver), period="2026-10")
        assert result.status == "loaded"
        assert result.rows == 6

        count, billed, effective, estimated = conn.execute(
            "SELECT count(*), sum(BilledCost), sum(EffectiveCost), bool_and(x_Estimated) FROM billing"
        ).fetchone()
        # 12.5 + 0.123456789012 (0.123456789012345 at 12 places) + 3.25 + 0.75 + 2.0 + 0.5 = 19.123456789012
        assert (count, billed, effective, estimated) == (
            6,
            Decimal("19.123456789012"),
            Decimal("19.123456789012"),
            True,
        )

        by_service = conn.execute(
            "SELECT ServiceName, ServiceCategory, ServiceSubcategory, sum(BilledCost) FROM billing "
            "GROUP BY ALL ORDER BY ServiceName"
        ).fetchall()
        assert by_service == [
            ("Bandwidth", "Networking", "Network Connectivity", Decimal("2.000000000000")),
            ("Some Preview Service", "Other", "Other (Other)", Decimal("0.500000000000")),
            ("Storage", "Storage", "Object Storage", Decimal("0.123456789012")),
            ("Virtual Machines", "Compute", "Virtual Machines", Decimal("15.750000000000")),  # 12.5 + 3.25
            ("Virtual Network", "Networking", "Network Infrastructure", Decimal("0.750000000000")),
        ]
        constant = conn.execute(
            "SELECT DISTINCT ChargeCategory, ChargeFrequency, BillingCurrency, BillingAccountId, SubAccountId, "
            "SubAccountType, ProviderName, PublisherName, InvoiceIssuerName, BillingPeriodStart, BillingPeriodEnd "
            "FROM billing"
        ).fetchall()
        assert constant == [
            (
                "Usage",
                "Usage-Based",
                "EUR",
                arm.SUB,
                arm.SUB,
                "Subscription",
                "Microsoft",
                "Microsoft",
                "Microsoft",
                datetime(2026, 10, 1, tzinfo=UTC),
                datetime(2026, 11, 1, tzinfo=UTC),
            )
        ]
        day = conn.execute(
            "SELECT ChargePeriodStart, ChargePeriodEnd, ResourceId, x_ResourceGroupName FROM billing "
            "WHERE ServiceName = 'Bandwidth'"
        ).fetchone()
        assert day == (datetime(2026, 10, 31, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), None, None)
        vm = conn.execute(
            "SELECT ResourceName, x_ResourceGroupName, sum(EffectiveCost) FROM billing WHERE ResourceId = $rid "
            "GROUP BY ALL",
            {"rid": arm.RID_VM},
        ).fetchone()
        assert vm == ("vm-web-1", "rg-web", Decimal("15.750000000000"))

        ledger = conn.execute(
            "SELECT source, collector, provider, status, row_count, billing_period_start FROM ingests"
        ).fetchall()
        assert ledger == [
            (f"azure-query:{SCOPE}", "azure.query", "Microsoft", "loaded", 6, datetime(2026, 10, 1, tzinfo=UTC))
        ]
        totals = conn.execute("SELECT BillingCurrency, row_count, BilledCost FROM ingest_totals").fetchall()
        assert totals == [("EUR", 6, Decimal("19.123456789012"))]

        again = ingest(conn, source(httpserver), period="2026-10")  # the same answer: nothing to replace
        assert again.status == "unchanged"
        assert conn.execute("SELECT count(*) FROM billing").fetchone() == (6,)
    finally:
        conn.close()
    assert len(httpserver.log) == 4  # two pages per fetch


def test_without_a_period_the_previous_and_current_month_are_read(httpserver: HTTPServer) -> None:
    def first_day_row(request: Request) -> Response:
        body = arm.query_single_page()
        first_day = json.loads(request.get_data())["timePeriod"]["from"][:10]  # a row dated in the asked month
        body["properties"]["rows"][0][3] = int(first_day.replace("-", ""))
        return json_response(body)

    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_handler(first_day_row)
    collector = source(httpserver)
    try:
        request = collector.fetch(None)
    finally:
        collector.close()
    periods = [json.loads(r.get_data())["timePeriod"] for r, _ in httpserver.log]
    assert periods == [
        {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T23:59:59Z"},
        {"from": "2026-11-01T00:00:00Z", "to": "2026-11-25T23:59:59Z"},  # the current month up to today (NOW)
    ]
    assert [p.file.path for p in request.plans] == [f"azure-query:{SCOPE}/2026-10", f"azure-query:{SCOPE}/2026-11"]


def _timed(times: list[float], response: Response) -> Any:
    def handler(_: Request) -> Response:
        times.append(time.monotonic())
        return response

    return handler


def test_429_with_only_a_costmanagement_header_is_waited_out(httpserver: HTTPServer) -> None:
    times: list[float] = []
    throttled = json_response(arm.THROTTLED_BODY, 429, {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "1"})
    httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_handler(_timed(times, throttled))
    httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_handler(
        _timed(times, json_response(arm.query_single_page()))
    )
    collector = source(httpserver)
    try:
        request = collector.fetch("2026-10")
    finally:
        collector.close()
    httpserver.check_assertions()
    first_response = httpserver.log[0][1]
    assert first_response.status_code == 429 and "Retry-After" not in first_response.headers
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0
    assert len(request.plans) == 1


def test_the_largest_rate_limit_header_wins(httpserver: HTTPServer) -> None:
    times: list[float] = []
    headers = {
        "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "0.1",
        "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after": "0.6",
        "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "0.2",
        "x-ms-ratelimit-microsoft.costmanagement-client-retry-after": "0.3",
    }
    httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_handler(
        _timed(times, json_response(arm.THROTTLED_BODY, 429, headers))
    )
    httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_handler(
        _timed(times, json_response(arm.query_single_page()))
    )
    collector = source(httpserver)
    try:
        collector.fetch("2026-10")
    finally:
        collector.close()
    assert times[1] - times[0] >= 0.6


def test_repeated_429_ends_in_throttled_after_capped_waits(httpserver: HTTPServer) -> None:
    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_response(
        json_response(arm.THROTTLED_BODY, 429, {"x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after": "30"})
    )
    policy = CostManagementRetryPolicy(retry_total=2, max_retry_after_s=0.05)
    collector = source(httpserver, retry_policy=policy)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        collector.fetch("2026-10")
    assert time.monotonic() - started < 5  # two waits of 30 s each, capped at 0.05 s
    assert len(httpserver.log) == 3  # the first try and retry_total=2 retries
    message = str(caught.value)
    assert message.startswith(f"{CALL}: HTTP 429 429: Too many requests. Please retry.")
    assert "\n" not in message and FAKE_TOKEN not in message
    assert caught.value.source == CALL


def test_azure_core_default_policy_does_not_retry_a_throttled_post(httpserver: HTTPServer) -> None:
    """Why the subclass exists: RetryPolicy retries POST only on 500/503/504 or with Retry-After."""
    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_response(
        json_response(arm.THROTTLED_BODY, 429, {"x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": "0"})
    )
    with pytest.raises(Throttled):
        source(httpserver, retry_policy=RetryPolicy()).fetch("2026-10")
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("failing_page", [1, 2])
def test_401_gives_credentials_expired(httpserver: HTTPServer, failing_page: int) -> None:
    expired = json_response(arm.EXPIRED_TOKEN_BODY, 401, {"WWW-Authenticate": arm.EXPIRED_TOKEN_CHALLENGE})
    if failing_page == 2:
        httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_json(
            arm.query_page1(base(httpserver))
        )
    httpserver.expect_ordered_request(arm.QUERY_PATH, method="POST").respond_with_response(expired)
    with pytest.raises(CredentialsExpired) as caught:
        source(httpserver).fetch("2026-10")
    message = str(caught.value)
    assert message.startswith(f"{CALL}: HTTP 401 ExpiredAuthenticationToken: The access token expiry")
    assert "\n" not in message and FAKE_TOKEN not in message
    assert len(httpserver.log) == failing_page  # a 401 is not retried


def test_a_credential_that_cannot_refresh_gives_credentials_expired(httpserver: HTTPServer) -> None:
    with pytest.raises(CredentialsExpired) as caught:
        source(httpserver, credential=ExpiredCredential()).fetch("2026-10")
    assert str(caught.value).startswith(f"{CALL}: AADSTS700082")
    assert httpserver.log == []


def test_403_is_a_collector_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_response(
        json_response(arm.FORBIDDEN_BODY, 403)
    )
    with pytest.raises(CollectorError) as caught:
        source(httpserver).fetch("2026-10")
    assert type(caught.value) is CollectorError
    assert str(caught.value).startswith(f"{CALL}: HTTP 403 AuthorizationFailed: The client")
    assert "(the identity lacks a role on this scope)" in str(caught.value)


def test_a_next_link_to_another_host_is_refused(httpserver: HTTPServer) -> None:
    page = arm.query_page1("https://management.example.invalid")
    httpserver.expect_request(arm.QUERY_PATH, method="POST").respond_with_json(page)
    with pytest.raises(CollectorError, match="nextLink points to another host"):
        source(httpserver).fetch("2026-10")
    assert len(httpserver.log) == 1  # the token never went to the other host


def test_plain_http_is_refused_outside_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AzureCostQuery(
            SCOPE,
            credential=StaticCredential(),
            base_url="http://management.example.invalid/",
            call_options={"enforce_https": False},
        )
