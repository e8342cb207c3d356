"""The Cloud Billing catalog collector and the list-price cache, against a loopback server.

Responses are shaped as the Cloud Billing API v1 REST reference documents them (see
google_responses.py): ``GET /v1/billingAccounts/{id}/projects``, ``GET /v1/services``,
``GET /v1/services/{id}/skus``, paged with ``nextPageToken`` / ``pageToken``. The real
google-cloud-billing clients run with ``transport="rest"``; their REST transport keeps the http://
scheme of ``api_endpoint`` and adds ``$alt=json;enum-encoding=int`` to every query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.oauth2.credentials import Credentials
from pytest_httpserver import HTTPServer

from spendscope.collectors.gcp import catalog
from spendscope.errors import CollectorError, CredentialsExpired, Throttled
from spendscope.warehouse.catalog import SkuPriceLookup, cached_sku_prices, sku_prices, store_sku_prices
from tests.gcp import google_responses as g

TOKEN = "ya29.test-token-not-real-42"
ALT = {"$alt": "json;enum-encoding=int"}
FAST_RETRY = Retry(
    predicate=if_exception_type(gexc.TooManyRequests, gexc.ServiceUnavailable),
    initial=0.01,
    maximum=0.02,
    timeout=0.5,
)
PROJECTS_PATH = f"/v1/billingAccounts/{g.BILLING_ACCOUNT}/projects"
SKUS_PATH = f"/v1/services/{g.COMPUTE_SERVICE}/skus"
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def options(httpserver: HTTPServer) -> dict[str, str]:
    return {"api_endpoint": httpserver.url_for("").rstrip("/")}


def billing(httpserver: HTTPServer, credentials: Any = None) -> catalog.billing_v1.CloudBillingClient:
    creds = credentials or g.StaticToken(TOKEN)
    return catalog.billing_client(credentials=creds, client_options=options(httpserver))


def catalog_client(httpserver: HTTPServer) -> catalog.billing_v1.CloudCatalogClient:
    return catalog.catalog_client(credentials=g.StaticToken(TOKEN), client_options=options(httpserver))


def expect_get(httpserver: HTTPServer, path: str, *, page_token: str | None = None, oneshot: bool = True) -> Any:
    query = ALT if page_token is None else {**ALT, "pageToken": page_token}
    expect = httpserver.expect_oneshot_request if oneshot else httpserver.expect_request
    return expect(path, method="GET", query_string=query, headers={"Authorization": f"Bearer {TOKEN}"})


def serve_skus(httpserver: HTTPServer) -> None:
    expect_get(httpserver, SKUS_PATH, oneshot=False).respond_with_json(g.SKUS_PAGE_1)
    expect_get(httpserver, SKUS_PATH, page_token="c2t1cy0y", oneshot=False).respond_with_json(g.SKUS_PAGE_2)


def test_projects_of_a_billing_account_over_two_pages(httpserver: HTTPServer) -> None:
    expect_get(httpserver, PROJECTS_PATH).respond_with_json(g.PROJECTS_PAGE_1)
    expect_get(httpserver, PROJECTS_PATH, page_token="cHJvamVjdHMtMg").respond_with_json(g.PROJECTS_PAGE_2)

    projects = catalog.list_billing_projects(billing(httpserver), billing_account=g.BILLING_ACCOUNT)

    assert projects == [
        catalog.ProjectBilling("acme-prod", g.BILLING_ACCOUNT, True),
        catalog.ProjectBilling("acme-idle", g.BILLING_ACCOUNT, True),  # linked, no spend needed
        catalog.ProjectBilling("acme-sandbox", None, False),
    ]
    httpserver.check_assertions()
    assert [r.path for r, _ in httpserver.log] == [PROJECTS_PATH, PROJECTS_PATH]
    assert httpserver.log[0][0].headers["X-Goog-Request-Params"] == f"name=billingAccounts/{g.BILLING_ACCOUNT}"


def test_services(httpserver: HTTPServer) -> None:
    expect_get(httpserver, "/v1/services").respond_with_json(g.SERVICES)
    services = catalog.list_catalog_services(catalog_client(httpserver))
    assert services == [
        catalog.CatalogService(g.COMPUTE_SERVICE, "Compute Engine", "businessEntities/GCP"),
        catalog.CatalogService(g.NETWORK_SERVICE, "Networking", "businessEntities/GCP"),
    ]


def test_sku_tiers_become_unit_prices(httpserver: HTTPServer) -> None:
    serve_skus(httpserver)
    table = catalog.collect_sku_prices(catalog_client(httpserver), service_ids=[g.COMPUTE_SERVICE])

    assert table.schema == catalog.SKU_PRICE_SCHEMA
    got = [(r["sku_id"], r["pricing_unit"], r["tier_start_amount"], r["unit_price"]) for r in table.to_pylist()]
    assert got == [
        (g.SKU_CORE, "h", Decimal(0), Decimal("0.031611")),  # 0 + 31,611,000 × 10^-9
        (g.SKU_PD, "GiBy.mo", Decimal(0), Decimal("0.04")),  # 0 + 40,000,000 × 10^-9
        (g.SKU_EGRESS, "GiBy", Decimal(0), Decimal(0)),  # free first GiB
        (g.SKU_EGRESS, "GiBy", Decimal(1), Decimal("0.12")),  # 120,000,000 × 10^-9
        (g.SKU_EGRESS, "GiBy", Decimal(1024), Decimal("0.11")),
        (g.SKU_EGRESS, "GiBy", Decimal(10240), Decimal("0.08")),
        (g.SKU_INTERCONNECT, "h", Decimal(0), Decimal("18.05")),  # 18 + 50,000,000 × 10^-9
    ]
    first = table.to_pylist()[0]
    assert first["currency"] == "USD"
    assert first["pricing_unit_description"] == "hour"
    assert first["service_name"] == "Compute Engine"
    assert first["service_regions"] == '["us-central1", "us-east1"]'
    assert first["effective_time"] == datetime(2026, 11, 25, 6, 52, 8, 165000, tzinfo=UTC)
    assert len(httpserver.log) == 2  # two pages


def test_money_units_and_nanos() -> None:
    assert catalog.money(2, 500_000_000) == Decimal("2.5")
    assert catalog.money(-1, -750_000_000) == Decimal("-1.75")  # same sign, as google.type.Money requires
    assert catalog.money(0, 1) == Decimal("0.000000001")


def test_cache_refreshes_only_after_the_interval(httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection) -> None:
    serve_skus(httpserver)
    client = catalog_client(httpserver)

    def fetch(ids: list[str]) -> Any:
        return catalog.collect_sku_prices(client, service_ids=ids)

    hour = timedelta(hours=1)
    first = cached_sku_prices(wh, service_ids=[g.COMPUTE_SERVICE], fetch=fetch, max_age=hour, now=T0)
    assert first.num_rows == 7 and len(httpserver.log) == 2

    # 30 minutes later: within the interval, the server is not asked.
    again = cached_sku_prices(wh, service_ids=[g.COMPUTE_SERVICE], fetch=fetch, max_age=hour, now=T0 + hour / 2)
    assert again.num_rows == 7 and len(httpserver.log) == 2

    # 61 minutes after the fetch the cache is stale: both pages are read again, and the rows replaced.
    later = T0 + hour + timedelta(minutes=1)
    cached_sku_prices(wh, service_ids=[g.COMPUTE_SERVICE], fetch=fetch, max_age=hour, now=later)
    assert len(httpserver.log) == 4
    rows = wh.execute("SELECT count(*), min(fetched_at), max(fetched_at) FROM gcp_sku_prices").fetchone()
    assert rows == (7, later, later)


def test_sku_prices_reads_only_fresh_rows_and_the_lookup(httpserver: HTTPServer, wh: duckdb.DuckDBPyConnection) -> None:
    serve_skus(httpserver)
    table = catalog.collect_sku_prices(catalog_client(httpserver), service_ids=[g.COMPUTE_SERVICE])
    assert store_sku_prices(wh, table, fetched_at=T0) == 7

    assert sku_prices(wh, max_age=timedelta(hours=1), now=T0 + timedelta(minutes=59)).num_rows == 7
    assert sku_prices(wh, max_age=timedelta(hours=1), now=T0 + timedelta(hours=2)).num_rows == 0
    assert sku_prices(wh, max_age=timedelta(hours=1), now=T0, currency="EUR").num_rows == 0

    lookup = SkuPriceLookup(sku_prices(wh, max_age=timedelta(hours=1), now=T0))
    assert lookup.unit_price(g.SKU_CORE, "h") == Decimal("0.031611")
    assert lookup.unit_price(g.SKU_PD, "gibibyte month") == Decimal("0.04")  # the export's unit words
    assert lookup.unit_price(g.SKU_EGRESS, "GiBy") == Decimal(0)
    assert lookup.unit_price(g.SKU_EGRESS, "GiBy", usage_amount=Decimal(500)) == Decimal("0.12")  # 1 ≤ 500 < 1024
    assert lookup.unit_price(g.SKU_EGRESS, "GiBy", usage_amount=Decimal(1024)) == Decimal("0.11")
    assert lookup.unit_price(g.SKU_EGRESS, "GiBy", usage_amount=Decimal(20000)) == Decimal("0.08")
    assert lookup.unit_price(g.SKU_CORE, "GiBy") is None
    assert lookup.unit_price("0000-0000-0000", "h") is None


def test_403_is_a_collector_error_naming_the_call(httpserver: HTTPServer) -> None:
    expect_get(httpserver, PROJECTS_PATH).respond_with_json(
        g.billing_error(403, "PERMISSION_DENIED", "The caller does not have permission"), status=403
    )
    with pytest.raises(CollectorError) as info:
        catalog.list_billing_projects(billing(httpserver), billing_account=g.BILLING_ACCOUNT, retry=FAST_RETRY)
    assert type(info.value) is CollectorError
    assert str(info.value) == (
        f"cloudbilling.billingAccounts.projects.list billingAccounts/{g.BILLING_ACCOUNT}: "
        "403 Forbidden: The caller does not have permission"
    )


def test_401_is_credentials_expired_without_the_token(httpserver: HTTPServer) -> None:
    # After a 401 google-auth refreshes and sends the request again, up to twice: three 401 answers.
    expect_get(httpserver, PROJECTS_PATH, oneshot=False).respond_with_json(
        g.billing_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        ),
        status=401,
    )
    with pytest.raises(CredentialsExpired) as info:
        catalog.list_billing_projects(billing(httpserver), billing_account=g.BILLING_ACCOUNT, retry=FAST_RETRY)
    assert str(info.value) == (
        f"cloudbilling.billingAccounts.projects.list billingAccounts/{g.BILLING_ACCOUNT}: "
        "401 Unauthorized: Request had invalid authentication credentials. Expected OAuth 2 access token."
    )
    assert TOKEN not in str(info.value)
    assert len(httpserver.log) == 3


def test_401_with_a_token_that_cannot_refresh_is_credentials_expired(httpserver: HTTPServer) -> None:
    expect_get(httpserver, PROJECTS_PATH).respond_with_json(
        g.billing_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."), status=401
    )
    # An OAuth user token with no refresh token: after the 401 its refresh raises RefreshError.
    with pytest.raises(CredentialsExpired) as info:
        catalog.list_billing_projects(billing(httpserver, Credentials(token=TOKEN)), billing_account=g.BILLING_ACCOUNT)
    assert str(info.value).endswith("credentials cannot be refreshed (RefreshError); sign in again")
    assert TOKEN not in str(info.value)


def test_credentials_that_cannot_refresh_are_expired(httpserver: HTTPServer) -> None:
    # No token and no refresh token: google-auth raises RefreshError before any request is sent.
    with pytest.raises(CredentialsExpired, match=r"RefreshError"):
        catalog.list_billing_projects(billing(httpserver, Credentials(token=None)), billing_account=g.BILLING_ACCOUNT)
    assert httpserver.log == []


def test_429_after_retry_is_throttled(httpserver: HTTPServer) -> None:
    expect_get(httpserver, SKUS_PATH, oneshot=False).respond_with_json(
        g.billing_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests'"), status=429
    )
    with pytest.raises(Throttled) as info:
        catalog.collect_sku_prices(catalog_client(httpserver), service_ids=[g.COMPUTE_SERVICE], retry=FAST_RETRY)
    assert str(info.value).startswith(f"cloudbilling.services.skus.list services/{g.COMPUTE_SERVICE}: gave up")
    assert len(httpserver.log) >= 2  # the Retry asked again before giving up


def test_503_then_success_is_retried_by_the_sdk(httpserver: HTTPServer) -> None:
    expect_get(httpserver, "/v1/services").respond_with_json(
        g.billing_error(503, "UNAVAILABLE", "The service is currently unavailable."), status=503
    )
    expect_get(httpserver, "/v1/services").respond_with_json(g.SERVICES)
    services = catalog.list_catalog_services(catalog_client(httpserver), retry=FAST_RETRY)
    assert len(services) == 2 and len(httpserver.log) == 2
