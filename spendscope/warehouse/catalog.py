"""The Google Cloud list-price cache (``gcp_sku_prices``) and a lookup over it.

``collectors.gcp.catalog.collect_sku_prices`` reads the Cloud Billing catalog; this module stores its
table (``store_sku_prices``), reads back rows younger than a refresh interval (``sku_prices``), and
refreshes only stale services through a fetch callable (``cached_sku_prices``), so the warehouse never
imports a cloud SDK. ``SkuPriceLookup`` answers "list price of one pricing unit of SKU x" for the
billing mapping; for bulk fills, join ``gcp_sku_prices`` in SQL on (sku_id, pricing_unit, currency).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pyarrow as pa

from spendscope.errors import WarehouseError
from spendscope.warehouse.db import transaction

_SOURCE = "gcp_sku_prices"
_VIEW = "gcp_sku_price_batch"
_COLUMNS = (
    "service_id",
    "service_name",
    "sku_id",
    "sku_description",
    "resource_family",
    "resource_group",
    "usage_type",
    "service_regions",
    "pricing_unit",
    "pricing_unit_description",
    "tier_start_amount",
    "unit_price",
    "currency",
    "effective_time",
)
_COLUMN_LIST = ", ".join(_COLUMNS)

# A refresh replaces, per currency, the rows of every service present in the new batch.
_DELETE = f"""
DELETE FROM gcp_sku_prices
WHERE (service_id, currency) IN (SELECT DISTINCT service_id, currency FROM {_VIEW})
"""
_INSERT = f"""
INSERT INTO gcp_sku_prices ({_COLUMN_LIST}, fetched_at)
SELECT {_COLUMN_LIST}, $fetched_at FROM {_VIEW}
"""
_FRESH = f"""
SELECT {_COLUMN_LIST}, fetched_at
FROM gcp_sku_prices
WHERE fetched_at > $oldest
  AND ($currency IS NULL OR currency = $currency)
  AND ($service_ids IS NULL OR list_contains($service_ids, service_id))
ORDER BY service_id, sku_id, pricing_unit, currency, tier_start_amount
"""
_FRESH_SERVICES = """
SELECT DISTINCT service_id FROM gcp_sku_prices
WHERE fetched_at > $oldest AND currency = $currency AND list_contains($service_ids, service_id)
"""


def store_sku_prices(conn: duckdb.DuckDBPyConnection, table: pa.Table, *, fetched_at: datetime) -> int:
    """Replace the cached rows of the (service, currency) pairs in ``table``; return rows inserted.

    One transaction: a failure leaves the earlier cache untouched. fetched_at must be timezone-aware.
    """
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must be timezone-aware")
    missing = [c for c in _COLUMNS if c not in table.column_names]
    if missing:
        raise WarehouseError(f"sku price table lacks columns {', '.join(missing)}", source=_SOURCE)
    conn.register(_VIEW, table)
    try:
        with transaction(conn):
            conn.execute(_DELETE)
            conn.execute(_INSERT, {"fetched_at": fetched_at.astimezone(UTC)})
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot store sku prices: {str(exc).splitlines()[0]}", source=_SOURCE) from exc
    finally:
        conn.unregister(_VIEW)
    return int(table.num_rows)


def sku_prices(
    conn: duckdb.DuckDBPyConnection,
    *,
    max_age: timedelta,
    now: datetime | None = None,
    currency: str | None = None,
    service_ids: Sequence[str] | None = None,
) -> pa.Table:
    """Cached rows fetched less than ``max_age`` before ``now`` (default: the current time).

    Optionally only one currency and some services. Columns: ``SKU_PRICE_SCHEMA`` plus fetched_at.
    """
    params = {
        "oldest": _oldest(now, max_age),
        "currency": currency,
        "service_ids": None if service_ids is None else list(service_ids),
    }
    result: pa.Table = conn.execute(_FRESH, params).to_arrow_table()
    return result


def cached_sku_prices(
    conn: duckdb.DuckDBPyConnection,
    *,
    service_ids: Sequence[str],
    fetch: Callable[[list[str]], pa.Table],
    max_age: timedelta,
    currency: str = "USD",
    now: datetime | None = None,
) -> pa.Table:
    """Fresh cached prices of ``service_ids``, calling ``fetch(stale_ids)`` only for stale services.

    ``fetch`` is e.g. ``lambda ids: collect_sku_prices(client, service_ids=ids, currency_code="USD")``;
    its rows are stored with fetched_at = ``now``. A service whose fetch returns no SKUs stays stale.
    """
    when = now or datetime.now(UTC)
    ids = list(service_ids)
    fresh_rows = conn.execute(
        _FRESH_SERVICES, {"oldest": _oldest(when, max_age), "currency": currency, "service_ids": ids}
    ).fetchall()
    fresh = {r[0] for r in fresh_rows}
    stale = [s for s in ids if s not in fresh]
    if stale:
        store_sku_prices(conn, fetch(stale), fetched_at=when)
    return sku_prices(conn, max_age=max_age, now=when, currency=currency, service_ids=ids)


def _oldest(now: datetime | None, max_age: timedelta) -> datetime:
    when = now or datetime.now(UTC)
    if when.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return when.astimezone(UTC) - max_age


@dataclass(frozen=True, slots=True)
class _Tiers:
    starts: list[Decimal] = field(default_factory=list)
    prices: list[Decimal] = field(default_factory=list)


class SkuPriceLookup:
    """List unit prices by (sku_id, pricing unit, currency), built from ``sku_prices`` output.

    The pricing unit may be the catalog code (``GiBy.mo``) or its description (``gibibyte month``, the
    billing export's ``usage.pricing_unit``). Tiered SKUs: pass the usage already consumed in the SKU's
    period as ``usage_amount``; the default 0 gives the first tier (often a free tier priced 0).
    """

    def __init__(self, table: pa.Table) -> None:
        self._tiers: dict[tuple[str, str, str], _Tiers] = {}
        ordered = table.sort_by([("sku_id", "ascending"), ("tier_start_amount", "ascending")])
        for row in ordered.select(
            ["sku_id", "pricing_unit", "pricing_unit_description", "currency", "tier_start_amount", "unit_price"]
        ).to_pylist():
            for unit in {row["pricing_unit"], row["pricing_unit_description"]} - {None}:
                tiers = self._tiers.setdefault((row["sku_id"], unit, row["currency"]), _Tiers())
                tiers.starts.append(row["tier_start_amount"])
                tiers.prices.append(row["unit_price"])

    def __len__(self) -> int:
        return len(self._tiers)

    def unit_price(
        self, sku_id: str, pricing_unit: str, *, currency: str = "USD", usage_amount: Decimal = Decimal(0)
    ) -> Decimal | None:
        """The list price of one ``pricing_unit`` at ``usage_amount``; None when the SKU/unit is unknown."""
        tiers = self._tiers.get((sku_id, pricing_unit, currency))
        if tiers is None:
            return None
        i = bisect.bisect_right(tiers.starts, usage_amount) - 1
        return tiers.prices[max(i, 0)]
