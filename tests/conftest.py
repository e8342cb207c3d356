"""Shared fixtures. Test data here is written by hand (not by spendscope's generator), so expected
values come from an independent route."""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spendscope.warehouse.db import open_warehouse

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test where shared/ is absent, except under CI=true."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{path} is absent (a clone outside the workplace has no ../shared)")
    return path


@pytest.fixture(autouse=True)
def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may pick up real cloud credentials or a developer's spendscope settings."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "AZURE_", "GOOGLE_", "SPENDSCOPE_")):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def wh(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = open_warehouse(tmp_path / "wh.duckdb")
    yield conn
    conn.close()


# A minimal FOCUS 1.2 usage row, by hand. Money as strings so CSV and Decimal agree exactly.
BASE_ROW: dict[str, Any] = {
    "AvailabilityZone": None,
    "BilledCost": "1.50",
    "BillingAccountId": "111122223333",
    "BillingAccountName": "acme-payer",
    "BillingAccountType": "Billing Account",
    "BillingCurrency": "USD",
    "BillingPeriodEnd": "2026-11-01T00:00:00Z",
    "BillingPeriodStart": "2026-10-01T00:00:00Z",
    "CapacityReservationId": None,
    "CapacityReservationStatus": None,
    "ChargeCategory": "Usage",
    "ChargeClass": None,
    "ChargeDescription": "t3.micro hours",
    "ChargeFrequency": "Usage-Based",
    "ChargePeriodEnd": "2026-10-05T01:00:00Z",
    "ChargePeriodStart": "2026-10-05T00:00:00Z",
    "CommitmentDiscountCategory": None,
    "CommitmentDiscountId": None,
    "CommitmentDiscountName": None,
    "CommitmentDiscountQuantity": None,
    "CommitmentDiscountStatus": None,
    "CommitmentDiscountType": None,
    "CommitmentDiscountUnit": None,
    "ConsumedQuantity": "1",
    "ConsumedUnit": "Hours",
    "ContractedCost": "1.50",
    "ContractedUnitPrice": "1.50",
    "EffectiveCost": "1.50",
    "InvoiceId": "INV-1",
    "InvoiceIssuerName": "Amazon Web Services, Inc.",
    "ListCost": "2.00",
    "ListUnitPrice": "2.00",
    "PricingCategory": "Standard",
    "PricingCurrency": "USD",
    "PricingCurrencyContractedUnitPrice": "1.50",
    "PricingCurrencyEffectiveCost": "1.50",
    "PricingCurrencyListUnitPrice": "2.00",
    "PricingQuantity": "1",
    "PricingUnit": "Hours",
    "ProviderName": "AWS",
    "PublisherName": "AWS",
    "RegionId": "us-east-1",
    "RegionName": "US East (N. Virginia)",
    "ResourceId": "i-0abc",
    "ResourceName": "web-1",
    "ResourceType": "Virtual Machine",
    "ServiceCategory": "Compute",
    "ServiceName": "Amazon EC2",
    "ServiceSubcategory": "Virtual Machines",
    "SkuId": "SKU1",
    "SkuMeter": "Compute",
    "SkuPriceDetails": None,
    "SkuPriceId": "SKU1.P1",
    "SubAccountId": "444455556666",
    "SubAccountName": "payments-prod",
    "SubAccountType": "Linked Account",
    "Tags": '{"team": "payments", "env": "prod"}',
}


def rows(n: int, **overrides: Any) -> list[dict[str, Any]]:
    """n copies of BASE_ROW with overrides; a callable override gets the row index."""
    out = []
    for i in range(n):
        row = dict(BASE_ROW)
        for k, v in overrides.items():
            row[k] = v(i) if callable(v) else v
        out.append(row)
    return out


def write_csv(path: Path, data: list[dict[str, Any]], *, null: str = "", gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(data[0]))
        writer.writeheader()
        for row in data:
            writer.writerow({k: (null if v is None else v) for k, v in row.items()})
    return path


def write_parquet(path: Path, data: list[dict[str, Any]]) -> Path:
    """Parquet with money as decimal128(38,12) and timestamps as UTC, like a FOCUS export."""
    path.parent.mkdir(parents=True, exist_ok=True)
    money = {
        "BilledCost",
        "EffectiveCost",
        "ListCost",
        "ContractedCost",
        "ListUnitPrice",
        "ContractedUnitPrice",
        "ConsumedQuantity",
        "PricingQuantity",
        "CommitmentDiscountQuantity",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "PricingCurrencyContractedUnitPrice",
    }
    times = {"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"}
    arrays = {}
    for col in data[0]:
        values = [r[col] for r in data]
        if col in money:
            arrays[col] = pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 12))
        elif col in times:
            arrays[col] = pa.array(values, pa.string()).cast(pa.timestamp("us", tz="UTC"))
        else:
            arrays[col] = pa.array(values, pa.string())
    pq.write_table(pa.table(arrays), path)
    return path


def snapshot(conn: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """What must not change when a load is refused: billing totals and the loaded ledger."""
    billing = conn.execute("SELECT count(*), sum(BilledCost), sum(EffectiveCost) FROM billing").fetchone()
    ledger = conn.execute(
        "SELECT ingest_id, billing_period_start, status, row_count FROM ingests WHERE status <> 'failed' ORDER BY ALL"
    ).fetchall()
    totals = conn.execute("SELECT * FROM ingest_totals ORDER BY ALL").fetchall()
    return billing, tuple(ledger), tuple(totals)


pytest_plugins = [
    "tests.servers.moto",
    "tests.servers.azurite",
    "tests.servers.gcs",
    "tests.servers.bigquery",
    "tests.servers.prometheus",
    "tests.servers.pushgateway",
    "tests.servers.alertmanager",
]
