"""Hand-written CUR 2.0 line items covering each line item type, and writers for both CUR formats.

Amounts are small round numbers so every expected figure can be checked by hand.
"""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

P_START = datetime(2026, 10, 1, tzinfo=UTC)
P_END = datetime(2026, 11, 1, tzinfo=UTC)
RI = "arn:aws:ec2:us-east-1:111111111111:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::111111111111:savingsplan/sp-1"


def _line(kind: str, unblended: float, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": P_START,
        "bill_billing_period_end_date": P_END,
        "bill_invoice_id": "INV-2026-10",
        "bill_invoicing_entity": "Amazon Web Services, Inc.",
        "bill_payer_account_id": "111111111111",
        "bill_payer_account_name": "acme-payer",
        "line_item_availability_zone": "us-east-1a",
        "line_item_currency_code": "USD",
        "line_item_line_item_description": f"{kind} line",
        "line_item_line_item_type": kind,
        "line_item_operation": "RunInstances",
        "line_item_product_code": "AmazonEC2",
        "line_item_resource_id": "i-0001",
        "line_item_unblended_cost": unblended,
        "line_item_usage_account_id": "222222222222",
        "line_item_usage_account_name": "payments-prod",
        "line_item_usage_amount": 10.0,
        "line_item_usage_start_date": datetime(2026, 10, 5, 0, tzinfo=UTC),
        "line_item_usage_end_date": datetime(2026, 10, 5, 1, tzinfo=UTC),
        "line_item_usage_type": "BoxUsage:m5.large",
        "pricing_public_on_demand_cost": None,
        "pricing_term": "OnDemand",
        "pricing_unit": "Hrs",
        "product": {
            "product_name": "Amazon Elastic Compute Cloud",
            "region": "us-east-1",
            "location": "US East (N. Virginia)",
            "sku": "SKU1",
            "product_family": "Compute Instance",
        },
        "resource_tags": {"user_team": "payments", "user_env": "prod"},
        "reservation_reservation_a_r_n": "",
        "reservation_effective_cost": 0.0,
        "reservation_unused_amortized_upfront_fee_for_billing_period": 0.0,
        "reservation_unused_recurring_fee": 0.0,
        "savings_plan_savings_plan_a_r_n": "",
        "savings_plan_savings_plan_effective_cost": 0.0,
        "savings_plan_total_commitment_to_date": 0.0,
        "savings_plan_used_commitment": 0.0,
    }
    row.update(extra)
    return row


def month_lines() -> list[dict[str, Any]]:
    """One of each line item type. Expected FOCUS outcome, by hand:
    BilledCost    = Σ unblended = 10 + 0 + 30 + 4 − 4 + 12 + 1.5 − 2 + 100 = 151.50 (the invoice)
    EffectiveCost = 10 (usage) + 6 (RI-covered usage, reservation_effective_cost) + 9 (RI unused: 4 upfront + 5
                    recurring) + 3 (SP-covered usage) + 9 (SP unused: 12 − 3) + 1.5 (tax) − 2 (credit)
                    + 100 (support fee) = 136.50
    """
    return [
        _line("Usage", 10.0, pricing_public_on_demand_cost=10.0),
        _line(
            "DiscountedUsage",
            0.0,
            pricing_public_on_demand_cost=8.0,
            reservation_reservation_a_r_n=RI,
            reservation_effective_cost=6.0,
            pricing_term="Reserved",
        ),
        _line(
            "RIFee",
            30.0,
            reservation_reservation_a_r_n=RI,
            line_item_resource_id="",
            reservation_unused_amortized_upfront_fee_for_billing_period=4.0,
            reservation_unused_recurring_fee=5.0,
            line_item_usage_amount=720.0,
        ),
        _line(
            "SavingsPlanCoveredUsage",
            4.0,
            pricing_public_on_demand_cost=4.0,
            savings_plan_savings_plan_a_r_n=SP,
            savings_plan_savings_plan_effective_cost=3.0,
            line_item_resource_id="i-0002",
            resource_tags={"user_team": "search"},
        ),
        _line("SavingsPlanNegation", -4.0, savings_plan_savings_plan_a_r_n=SP, line_item_resource_id="i-0002"),
        _line(
            "SavingsPlanRecurringFee",
            12.0,
            savings_plan_savings_plan_a_r_n=SP,
            line_item_resource_id="",
            savings_plan_total_commitment_to_date=12.0,
            savings_plan_used_commitment=3.0,
        ),
        _line("Tax", 1.5, line_item_resource_id="", line_item_usage_amount=None, pricing_unit=None, resource_tags={}),
        _line(
            "Credit", -2.0, line_item_resource_id="", line_item_usage_amount=None, pricing_unit=None, resource_tags={}
        ),
        _line(
            "Fee",
            100.0,
            line_item_product_code="AWSSupportBusiness",
            line_item_resource_id="",
            product={"product_name": "AWS Support (Business)"},
            resource_tags={},
            line_item_usage_amount=1.0,
            pricing_unit="Dollar",
        ),
    ]


def write_cur2_parquet(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols: dict[str, pa.Array] = {}
    for name in lines[0]:
        values = [r[name] for r in lines]
        if name in ("product", "resource_tags"):
            cols[name] = pa.array([list(v.items()) for v in values], pa.map_(pa.string(), pa.string()))
        elif isinstance(values[0], datetime):
            cols[name] = pa.array(values, pa.timestamp("ms", tz="UTC"))
        elif isinstance(next((v for v in values if v is not None), ""), float):
            cols[name] = pa.array(values, pa.float64())
        else:
            cols[name] = pa.array(values, pa.string())
    pq.write_table(pa.table(cols), path)
    return path


def legacy_header(name: str) -> str:
    """CUR 2.0 snake name → legacy CSV header (category/Name), for the columns used here."""
    categories = {
        "bill": "bill",
        "line_item": "lineItem",
        "pricing": "pricing",
        "reservation": "reservation",
        "savings_plan": "savingsPlan",
        "product": "product",
    }
    for snake, cat in sorted(categories.items(), key=lambda kv: -len(kv[0])):
        if name.startswith(snake + "_"):
            rest = name[len(snake) + 1 :]
            special = {"reservation_a_r_n": "ReservationARN", "savings_plan_a_r_n": "SavingsPlanARN"}
            attr = special.get(rest) or "".join(p.capitalize() for p in rest.split("_"))
            return f"{cat}/{attr}"
    raise ValueError(name)


def write_legacy_csv_gz(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [n for n in lines[0] if n not in ("product", "resource_tags")]
    header = [legacy_header(n) for n in names] + [
        "product/ProductName",
        "product/regionCode",
        "product/location",
        "resourceTags/user:team",
        "resourceTags/user:env",
    ]
    with gzip.open(path, "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in lines:
            vals = [
                "" if r[n] is None else (r[n].strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(r[n], datetime) else r[n])
                for n in names
            ]
            p, t = r["product"], r["resource_tags"]
            vals += [
                p.get("product_name", ""),
                p.get("region", ""),
                p.get("location", ""),
                t.get("user_team", ""),
                t.get("user_env", ""),
            ]
            w.writerow(vals)
    return path
