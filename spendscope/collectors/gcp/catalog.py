"""Google Cloud Billing catalog: a billing account's projects, and SKU list prices.

Two read-only REST calls of the Cloud Billing API v1 (``cloudbilling.googleapis.com``), through the
google-cloud-billing clients built with ``transport="rest"``:

- ``list_billing_projects``: ``GET /v1/billingAccounts/{id}/projects`` (projects.billingInfo), so
  projects linked to the account are known even when they have no spend in the export;
- ``collect_sku_prices``: ``GET /v1/services`` and ``GET /v1/services/{id}/skus``, each SKU's current
  pricing expression turned into one row per tier (``SKU_PRICE_SCHEMA``). Store them with
  ``warehouse.catalog.store_sku_prices``; read them back through ``warehouse.catalog``.

Paging follows ``nextPageToken`` inside the SDK pagers, each page with the same ``Retry``. Retries
come from google.api_core's ``Retry`` (429, 503 and 500 are retried until its timeout); there is no
retry loop here. ``gcp_errors`` maps what is left to one-line spendscope errors naming the call and
the account or project (``CredentialsExpired``, ``Throttled``, ``CollectorError``); tokens never
appear in a message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from google.api_core import exceptions as gexc
from google.api_core.retry import Retry, if_exception_type
from google.auth import exceptions as auth_exc
from google.auth.credentials import Credentials
from google.cloud import billing_v1

from spendscope.errors import CollectorError, CredentialsExpired, Throttled

log = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = (
    "billing.resourceAssociations.list",  # projects of a billing account (Billing Account Viewer)
)
"""The SKU catalog is public: any authenticated caller may list services and SKUs."""

DEFAULT_RETRY = Retry(
    predicate=if_exception_type(gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError),
    initial=1.0,
    maximum=32.0,
    multiplier=2.0,
    timeout=120.0,
)
"""Exponential back-off on 429/503/500 for up to 120 s; afterwards the call raises Throttled."""

SKU_PRICE_SCHEMA = pa.schema(
    [
        pa.field("service_id", pa.string(), nullable=False),
        pa.field("service_name", pa.string()),
        pa.field("sku_id", pa.string(), nullable=False),
        pa.field("sku_description", pa.string()),
        pa.field("resource_family", pa.string()),
        pa.field("resource_group", pa.string()),
        pa.field("usage_type", pa.string()),
        pa.field("service_regions", pa.string()),
        pa.field("pricing_unit", pa.string(), nullable=False),
        pa.field("pricing_unit_description", pa.string()),
        pa.field("tier_start_amount", pa.decimal128(38, 12), nullable=False),
        pa.field("unit_price", pa.decimal128(38, 12), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("effective_time", pa.timestamp("us", tz="UTC")),
    ]
)
"""One row per (service_id, sku_id, pricing_unit, currency, tier_start_amount).

``pricing_unit`` is the catalog's usageUnit code (``h``, ``GiBy.mo``); ``pricing_unit_description``
its words (``hour``, ``gibibyte month``), which is what the billing export calls ``pricing_unit``.
``unit_price`` is the list price of ONE pricing unit for usage from ``tier_start_amount`` (in pricing
units, within the SKU's usage period) up to the next tier's start. ``service_regions`` is a JSON array.
"""

_NANOS = Decimal(1).scaleb(-9)
_MESSAGE_CHARS = 300
_REQUEST_PREFIX = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")
_SECRET = re.compile(r"(Bearer\s+\S+|ya29\.[\w.-]+)")


@dataclass(frozen=True, slots=True)
class ProjectBilling:
    """A project linked to a billing account (``billing_enabled`` False: linked but billing disabled)."""

    project_id: str
    billing_account_id: str | None
    billing_enabled: bool


@dataclass(frozen=True, slots=True)
class CatalogService:
    """A public service of the catalog, e.g. ``6F81-5844-456A`` / ``Compute Engine``."""

    service_id: str
    display_name: str
    business_entity_name: str


def billing_client(
    *, credentials: Credentials | None = None, client_options: Mapping[str, Any] | None = None
) -> billing_v1.CloudBillingClient:
    """A REST CloudBillingClient; ``client_options={"api_endpoint": ...}`` points it elsewhere (tests)."""
    return billing_v1.CloudBillingClient(
        transport="rest", credentials=credentials, client_options=dict(client_options or {})
    )


def catalog_client(
    *, credentials: Credentials | None = None, client_options: Mapping[str, Any] | None = None
) -> billing_v1.CloudCatalogClient:
    """A REST CloudCatalogClient; ``client_options={"api_endpoint": ...}`` points it elsewhere (tests)."""
    return billing_v1.CloudCatalogClient(
        transport="rest", credentials=credentials, client_options=dict(client_options or {})
    )


def list_billing_projects(
    client: billing_v1.CloudBillingClient, *, billing_account: str, retry: Retry = DEFAULT_RETRY
) -> list[ProjectBilling]:
    """Every project linked to ``billing_account`` (``012345-567890-ABCDEF`` or ``billingAccounts/…``).

    Includes projects with billing disabled and projects with no spend. Raises CredentialsExpired,
    Throttled or CollectorError naming the call and account.
    """
    name = billing_account if billing_account.startswith("billingAccounts/") else f"billingAccounts/{billing_account}"
    with gcp_errors(f"cloudbilling.billingAccounts.projects.list {name}"):
        infos = list(client.list_project_billing_info(name=name, retry=retry))
    projects = [
        ProjectBilling(
            project_id=info.project_id,
            billing_account_id=info.billing_account_name.removeprefix("billingAccounts/") or None,
            billing_enabled=bool(info.billing_enabled),
        )
        for info in infos
    ]
    log.info("gcp billing projects account=%s projects=%d", name, len(projects))
    return projects


def list_catalog_services(
    client: billing_v1.CloudCatalogClient, *, retry: Retry = DEFAULT_RETRY
) -> list[CatalogService]:
    """Every public service in the catalog (a few thousand; page through once, then pick ids)."""
    with gcp_errors("cloudbilling.services.list"):
        services = list(client.list_services(retry=retry))
    return [CatalogService(s.service_id, s.display_name, s.business_entity_name) for s in services]


def collect_sku_prices(
    client: billing_v1.CloudCatalogClient,
    *,
    service_ids: list[str],
    currency_code: str | None = None,
    retry: Retry = DEFAULT_RETRY,
) -> pa.Table:
    """List prices of every SKU of ``service_ids``, one row per tier (``SKU_PRICE_SCHEMA``).

    ``currency_code`` (ISO 4217) asks the API to convert prices; None: USD. Only each SKU's latest
    pricing info is kept (the API returns the current one unless asked for a time range).
    """
    rows: list[dict[str, Any]] = []
    for service_id in service_ids:
        parent = f"services/{service_id}"
        request = billing_v1.ListSkusRequest(parent=parent, currency_code=currency_code or "")
        with gcp_errors(f"cloudbilling.services.skus.list {parent}"):
            skus = list(client.list_skus(request=request, retry=retry))
        for sku in skus:
            rows.extend(sku_price_rows(service_id, sku))
        log.info("gcp sku prices service=%s skus=%d rows=%d", service_id, len(skus), len(rows))
    return pa.Table.from_pylist(rows, schema=SKU_PRICE_SCHEMA)


def money(units: int, nanos: int) -> Decimal:
    """A google.type.Money amount: whole units plus nanos (10^-9 units), both with the same sign."""
    return Decimal(units) + Decimal(nanos) * _NANOS


def sku_price_rows(service_id: str, sku: billing_v1.Sku) -> list[dict[str, Any]]:
    """The tier rows of one SKU's latest pricing info (none when the SKU has no pricing info)."""
    if not sku.pricing_info:
        return []
    info = max(sku.pricing_info, key=lambda p: p.effective_time or datetime.min.replace(tzinfo=UTC))
    expr = info.pricing_expression
    base = {
        "service_id": service_id,
        "service_name": sku.category.service_display_name or None,
        "sku_id": sku.sku_id,
        "sku_description": sku.description or None,
        "resource_family": sku.category.resource_family or None,
        "resource_group": sku.category.resource_group or None,
        "usage_type": sku.category.usage_type or None,
        "service_regions": json.dumps(list(sku.service_regions)),
        "pricing_unit": expr.usage_unit,
        "pricing_unit_description": expr.usage_unit_description or None,
        "effective_time": info.effective_time.astimezone(UTC) if info.effective_time else None,
    }
    return [
        {
            **base,
            "tier_start_amount": Decimal(repr(float(rate.start_usage_amount))),
            "unit_price": money(rate.unit_price.units, rate.unit_price.nanos),
            "currency": rate.unit_price.currency_code or "USD",
        }
        for rate in expr.tiered_rates
    ]


@contextmanager
def gcp_errors(call: str) -> Iterator[None]:
    """Map Google API and auth errors raised inside the block to one-line spendscope errors.

    ``call`` names the API call and the account or project, e.g. ``compute.disks.aggregatedList p1``.
    401 and a failed credential refresh → CredentialsExpired; 429/503 (after Retry gave up) →
    Throttled; everything else from the API (403 PermissionDenied, 404 …) → CollectorError.
    """
    try:
        yield
    except (auth_exc.RefreshError, auth_exc.DefaultCredentialsError) as exc:
        # After a 401 google-auth refreshes the credentials and asks again; a refresh that fails
        # (RefreshError; InvalidOperation for anonymous credentials) ends here. Its text can quote
        # the token endpoint's answer: keep only the type.
        name = type(exc).__name__
        raise CredentialsExpired(f"credentials cannot be refreshed ({name}); sign in again", source=call) from exc
    except auth_exc.TransportError as exc:
        raise CollectorError(f"cannot reach the token endpoint ({type(exc).__name__})", source=call) from exc
    except gexc.RetryError as exc:
        cause = exc.cause
        text = _api_message(cause) if isinstance(cause, gexc.GoogleAPICallError) else type(cause).__name__
        raise Throttled(_short(f"gave up after retrying: {text}"), source=call) from exc
    except gexc.Unauthorized as exc:  # HTTP 401 (Unauthenticated is its gRPC-named subclass)
        raise CredentialsExpired(_short(_api_message(exc)), source=call) from exc
    except (gexc.TooManyRequests, gexc.ServiceUnavailable) as exc:
        raise Throttled(_short(_api_message(exc)), source=call) from exc
    except gexc.GoogleAPICallError as exc:
        raise CollectorError(_short(_api_message(exc)), source=call) from exc


def _api_message(exc: gexc.GoogleAPICallError) -> str:
    """``403 PermissionDenied: <Google's message>`` without the request line the REST client prepends."""
    text = _REQUEST_PREFIX.sub("", str(exc.message or "").strip())
    first = text.splitlines()[0] if text else "no message"
    return f"{exc.code} {type(exc).__name__}: {first}"


def _short(message: str) -> str:
    message = _SECRET.sub("[redacted]", " ".join(message.split()))
    return message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 1] + "…"
