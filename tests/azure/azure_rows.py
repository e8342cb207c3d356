"""Hand-written Cost Management cost details (actual and amortized) for one month, EA and MCA columns.

Written from Microsoft Learn's "Enterprise Agreement cost and usage details file schema" (version
2024-08-01) and "Microsoft Customer Agreement cost and usage details file schema" (2023-12-01-preview),
not by spendscope, so expected values come from the arithmetic in the comments below.

The month (2026-10, EUR) has one row per case:

  case          ChargeType          PricingModel  actual cost  amortized cost  → Billed  Effective
  ondemand      Usage               OnDemand          5.00         5.00           5.00     5.00
  spot          Usage               Spot              0.40         0.40           0.40     0.40
  ri-used       Usage               Reservation       0            4.80           0        4.80
  sp-used       Usage               SavingsPlan       0            3.00           0        3.00
  ri-purchase   Purchase            Reservation      30.00        (30.00)*       30.00     0
  sp-purchase   Purchase            SavingsPlan      12.00          –            12.00     0
  ri-refund     Refund              Reservation     -10.00          –           -10.00     0
  rounding      RoundingAdjustment  –                 0.01         0.01           0.01     0.01
  marketplace   Purchase            OnDemand         20.00        20.00          20.00    20.00
  tax           Tax                 –                 1.50         1.50           1.50     1.50
  ri-unused     UnusedReservation   Reservation        –           1.20           0        1.20
  sp-unused     UnusedSavingsPlan   SavingsPlan        –           0.90           0        0.90

  (*) a commitment purchase left in the amortized file: the conversion takes it from the actual file.
  Σ Billed = 5 + 0.4 + 30 + 12 − 10 + 0.01 + 20 + 1.5 = 58.91 = Σ actual cost
  Σ Effective = 5 + 0.4 + 4.8 + 3 + 0.01 + 20 + 1.5 + 1.2 + 0.9 = 36.81 = Σ amortized cost without (*)
"""

from __future__ import annotations

import csv
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

D = Decimal
SUB_A = "3f2b8c1e-6d4a-4e9b-9a57-2c1d0e8f7a61"
SUB_B = "8a41d7f2-0c3e-4b5d-8e69-71f2a4c9b305"
RI = (
    "/providers/Microsoft.Capacity/reservationOrders/11111111-1111-1111-1111-111111111111"
    "/reservations/22222222-2222-2222-2222-222222222222"
)
SP = (
    "/providers/Microsoft.BillingBenefits/savingsPlanOrders/33333333-3333-3333-3333-333333333333"
    "/savingsPlans/44444444-4444-4444-4444-444444444444"
)
VM = f"/subscriptions/{SUB_A}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/web-1"

# (case, ChargeType, PricingModel, actual cost, amortized cost, billed, effective, extra columns)
CASES: list[tuple[str, str, str, str | None, str | None, Decimal, Decimal]] = [
    ("ondemand", "Usage", "OnDemand", "5.00", "5.00", D("5.00"), D("5.00")),
    ("spot", "Usage", "Spot", "0.40", "0.40", D("0.40"), D("0.40")),
    ("ri-used", "Usage", "Reservation", "0", "4.80", D(0), D("4.80")),
    ("sp-used", "Usage", "SavingsPlan", "0", "3.00", D(0), D("3.00")),
    ("ri-purchase", "Purchase", "Reservation", "30.00", "30.00", D("30.00"), D(0)),
    ("sp-purchase", "Purchase", "SavingsPlan", "12.00", None, D("12.00"), D(0)),
    ("ri-refund", "Refund", "Reservation", "-10.00", None, D("-10.00"), D(0)),
    ("rounding", "RoundingAdjustment", "", "0.01", "0.01", D("0.01"), D("0.01")),
    ("marketplace", "Purchase", "OnDemand", "20.00", "20.00", D("20.00"), D("20.00")),
    ("tax", "Tax", "", "1.50", "1.50", D("1.50"), D("1.50")),
    ("ri-unused", "UnusedReservation", "Reservation", None, "1.20", D(0), D("1.20")),
    ("sp-unused", "UnusedSavingsPlan", "SavingsPlan", None, "0.90", D(0), D("0.90")),
]
BILLED_TOTAL = D("58.91")
EFFECTIVE_TOTAL = D("36.81")

# Columns of each case besides cost, type and model (EA names; MCA names are mapped below).
_DETAILS: dict[str, dict[str, str]] = {
    "ondemand": {
        "MeterCategory": "Virtual Machines",
        "MeterSubCategory": "Dsv5 Series",
        "MeterName": "D2s v5",
        "ConsumedService": "Microsoft.Compute",
        "ResourceId": VM,
        "ResourceGroup": "rg-web",
        "Quantity": "10",
        "UnitOfMeasure": "1 Hour",
        "UnitPrice": "0.5",
        "PayGPrice": "0.6",
        "Frequency": "UsageBased",
        "Tags": '"team": "web","env": "prod"',  # EA writes tag JSON without its outer braces
    },
    "spot": {
        "MeterCategory": "Virtual Machines",
        "MeterName": "D2s v5 Spot",
        "ConsumedService": "Microsoft.Compute",
        "ResourceId": VM,
        "ResourceGroup": "rg-web",
        "Quantity": "4",
        "UnitOfMeasure": "1 Hour",
        "UnitPrice": "0.1",
        "PayGPrice": "0.6",
        "Frequency": "UsageBased",
        "Tags": '{"team": "web"}',
    },
    "ri-used": {
        "MeterCategory": "Virtual Machines",
        "MeterName": "D4s v5",
        "ConsumedService": "Microsoft.Compute",
        "ResourceId": VM,
        "ResourceGroup": "rg-web",
        "Quantity": "8",
        "UnitOfMeasure": "1 Hour",
        "UnitPrice": "0.9",
        "PayGPrice": "1.0",
        "Frequency": "UsageBased",
        "benefitId": RI,
        "benefitName": "vm-ri",
        "Tags": "not json",
    },
    "sp-used": {
        "MeterCategory": "Storage",
        "MeterName": "Hot LRS Write Operations",
        "ConsumedService": "Microsoft.Storage",
        "Quantity": "60000",
        "UnitOfMeasure": "10K",
        "UnitPrice": "0.5",
        "PayGPrice": "0.55",
        "Frequency": "UsageBased",
        "benefitId": SP,
        "benefitName": "compute-sp",
    },
    "ri-purchase": {
        "ConsumedService": "Microsoft.Capacity",
        "Quantity": "1",
        "UnitPrice": "30",
        "PayGPrice": "30",
        "Frequency": "Recurring",
        "benefitId": RI,
        "benefitName": "vm-ri",
    },
    "sp-purchase": {
        "ConsumedService": "Microsoft.BillingBenefits",
        "Quantity": "1",
        "UnitPrice": "12",
        "PayGPrice": "12",
        "Frequency": "Recurring",
        "benefitId": SP,
        "benefitName": "compute-sp",
    },
    "ri-refund": {
        "ConsumedService": "Microsoft.Capacity",
        "Quantity": "-1",  # a refund returns a quantity; prices stay positive
        "UnitPrice": "10",
        "PayGPrice": "10",
        "Frequency": "OneTime",
        "benefitId": RI,
        "benefitName": "vm-ri",
    },
    "rounding": {"Frequency": "OneTime"},
    "marketplace": {
        "PublisherName": "Contoso Ltd",
        "Quantity": "1",
        "UnitPrice": "20",
        "PayGPrice": "20",
        "Frequency": "Recurring",
    },
    "tax": {"Frequency": "OneTime"},
    "ri-unused": {
        "MeterCategory": "Virtual Machines",
        "MeterName": "D4s v5",
        "ConsumedService": "Microsoft.Compute",
        "Quantity": "2",
        "UnitOfMeasure": "1 Hour",
        "UnitPrice": "0.9",
        "PayGPrice": "1.0",
        "Frequency": "UsageBased",
        "benefitId": RI,
        "benefitName": "vm-ri",
    },
    "sp-unused": {
        "Quantity": "1",
        "UnitPrice": "0.9",
        "PayGPrice": "0.9",
        "Frequency": "UsageBased",
        "benefitId": SP,
        "benefitName": "compute-sp",
    },
}

EA_HEADER = [
    "InvoiceSectionName", "AccountName", "AccountOwnerId", "SubscriptionId", "SubscriptionName", "ResourceGroup",
    "ResourceLocation", "Date", "ProductName", "MeterCategory", "MeterSubCategory", "MeterId", "MeterName",
    "MeterRegion", "UnitOfMeasure", "Quantity", "EffectivePrice", "CostInBillingCurrency", "CostCenter",
    "ConsumedService", "ResourceId", "Tags", "OfferId", "AdditionalInfo", "ServiceInfo1", "ServiceInfo2",
    "ResourceName", "ReservationId", "ReservationName", "UnitPrice", "ProductOrderId", "ProductOrderName", "Term",
    "PublisherType", "PublisherName", "ChargeType", "Frequency", "PricingModel", "AvailabilityZone",
    "BillingAccountId", "BillingAccountName", "BillingCurrencyCode", "BillingPeriodStartDate",
    "BillingPeriodEndDate", "BillingProfileId", "BillingProfileName", "InvoiceSectionId", "IsAzureCreditEligible",
    "PartNumber", "PayGPrice", "PlanName", "ServiceFamily", "CostAllocationRuleName", "benefitId", "benefitName",
    "AccountId", "ResourceLocationNormalized",
]  # fmt: skip
# EA name → MCA name where they differ (MCA: camelCase, billing profile as the billing account).
MCA_NAMES = {
    "SubscriptionName": "subscriptionName",
    "ResourceGroup": "resourceGroupName",
    "ResourceLocation": "resourceLocation",
    "Date": "date",
    "MeterCategory": "meterCategory",
    "MeterSubCategory": "meterSubCategory",
    "MeterName": "meterName",
    "MeterId": "meterId",
    "UnitOfMeasure": "unitOfMeasure",
    "Quantity": "quantity",
    "CostInBillingCurrency": "costInBillingCurrency",
    "ConsumedService": "consumedService",
    "Tags": "tags",
    "UnitPrice": "unitPrice",
    "PublisherName": "publisherName",
    "ChargeType": "chargeType",
    "Frequency": "frequency",
    "PricingModel": "pricingModel",
    "BillingPeriodStartDate": "billingPeriodStartDate",
    "BillingPeriodEndDate": "billingPeriodEndDate",
    "ResourceLocationNormalized": "location",
}
MCA_HEADER = [
    "invoiceId", "billingAccountId", "billingAccountName", "billingProfileId", "billingProfileName",
    "billingPeriodEndDate", "billingPeriodStartDate", "date", "consumedService", "meterId", "meterName",
    "meterCategory", "meterSubCategory", "ProductId", "ProductName", "SubscriptionId", "subscriptionName",
    "publisherType", "publisherName", "resourceGroupName", "ResourceId", "resourceLocation", "location",
    "effectivePrice", "quantity", "unitOfMeasure", "chargeType", "billingCurrency", "pricingCurrency",
    "costInBillingCurrency", "costInPricingCurrency", "paygCostInBillingCurrency", "exchangeRatePricingToBilling",
    "tags", "PayGPrice", "frequency", "reservationId", "reservationName", "pricingModel", "unitPrice", "benefitId",
    "benefitName",
]  # fmt: skip


def ea_row(case: str, charge_type: str, model: str, cost: str, *, day: int = 5, **overrides: str) -> dict[str, str]:
    """One EA cost details row of 2026-10 (subscription A, EUR); every other column empty."""
    row = dict.fromkeys(EA_HEADER, "")
    row.update(
        SubscriptionId=SUB_A,
        SubscriptionName="web-prod",
        ResourceLocation="westeurope",
        ResourceLocationNormalized="West Europe",
        Date=f"10/{day:02d}/2026",  # Cost Management writes MM/DD/YYYY
        ProductName=f"Test product {case}",
        CostInBillingCurrency=cost,
        ChargeType=charge_type,
        PricingModel=model,
        PublisherType="Azure",
        PublisherName="Microsoft",
        BillingAccountId="86412957",
        BillingAccountName="Acme Europe",
        BillingCurrencyCode="EUR",
        BillingPeriodStartDate="10/01/2026",
        BillingPeriodEndDate="10/31/2026",
        BillingProfileId="86412957",
        BillingProfileName="Acme Europe",
        MeterId=f"mtr-{case}",
    )
    row.update(_DETAILS[case])
    row.update(overrides)
    return row


def to_mca(row: dict[str, str]) -> dict[str, str]:
    """The same charge with MCA columns: billing profile BP-1 of account A-1, pricing currency = billing."""
    out = dict.fromkeys(MCA_HEADER, "")
    for k, v in row.items():
        name = MCA_NAMES.get(k, k)
        if name in out:
            out[name] = v
    out.update(
        billingAccountId="A-1",
        billingAccountName="Acme Corp",
        billingProfileId="BP-1",
        billingProfileName="Acme Europe BP",
        billingCurrency=row["BillingCurrencyCode"],
        pricingCurrency=row["BillingCurrencyCode"],
        costInPricingCurrency=row["CostInBillingCurrency"],
        exchangeRatePricingToBilling="1",
        invoiceId="G000000001",
        ProductId=f"prd-{row['MeterId']}",
        date=f"2026-10-{row['Date'][3:5]}",  # MCA exports here use ISO dates
        billingPeriodStartDate="2026-10-01",
        billingPeriodEndDate="2026-10-31",
    )
    if out["tags"] and not out["tags"].startswith("{") and out["tags"] != "not json":
        out["tags"] = "{" + out["tags"] + "}"  # MCA writes the braces
    return out


def month_rows(dataset: str) -> list[dict[str, str]]:
    """The EA rows of the actual or amortized dataset (see the module table)."""
    out = []
    for case, charge_type, model, actual, amortized, _b, _e in CASES:
        cost = actual if dataset == "actual" else amortized
        if cost is not None:
            out.append(ea_row(case, charge_type, model, cost))
    return out


def expected_by_case() -> dict[str, tuple[Decimal, Decimal]]:
    return {case: (b, e) for case, _t, _m, _a, _am, b, e in CASES}


def write_table(path: Path, rows: list[dict[str, str]], *, fmt: str) -> Path:
    """CSV (fmt 'csv'), gzip CSV ('csv.gz') or Parquet (money as double, text as string)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        money = {"CostInBillingCurrency", "costInBillingCurrency", "Quantity", "quantity", "UnitPrice", "unitPrice"}
        columns = {}
        for col in rows[0]:
            values = [r[col] or None for r in rows]
            columns[col] = pa.array([None if v is None else float(v) for v in values] if col in money else values)
        pq.write_table(pa.table(columns), path)
        return path
    opener: Any = gzip.open if fmt == "csv.gz" else open
    with opener(path, "wt", newline="", encoding="utf-8-sig") as fh:  # exports carry a UTF-8 BOM
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_run(
    root: Path,
    *,
    directory: str,
    export: str,
    dataset: str,
    rows: list[dict[str, str]],
    fmt: str = "csv",
    run_id: str = "run-1",
    submitted: str = "2026-11-01T06:00:00.1234567Z",
    period: str = "20261001-20261031",
    parts: int = 1,
    scope: str = "/providers/Microsoft.Billing/billingAccounts/86412957",
) -> list[str]:
    """A partitioned export run as Cost Management writes one: part files and manifest.json (the
    documented shape, blob names from the container root). Returns the blob names."""
    folder = f"{directory}/{export}/{period}/{run_id}"
    suffix = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "snappy.parquet"}[fmt]
    names = []
    for i in range(parts):
        name = f"{folder}/part_{i}_0001.{suffix}"
        write_table(root / name, rows[i::parts], fmt=fmt)
        names.append(name)
    manifest = {
        "manifestVersion": "2024-04-01",
        "blobCount": parts,
        "exportConfig": {
            "exportName": export,
            "resourceId": f"{scope}/providers/Microsoft.CostManagement/exports/{export}",
            "dataVersion": "2024-08-01",
            "type": dataset,
            "timeFrame": "MonthToDate",
        },
        "deliveryConfig": {"partitionData": True, "fileFormat": "Parquet" if fmt == "parquet" else "Csv"},
        "runInfo": {"executionType": "Scheduled", "submittedTime": submitted, "runId": run_id},
        "blobs": [{"blobName": n, "byteCount": (root / n).stat().st_size} for n in names],
    }
    (root / folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return [*names, f"{folder}/manifest.json"]
