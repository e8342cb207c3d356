"""Hand-written Cloud Billing export rows (invoice month 202611) with every kind of credit.

Expected figures, by hand:
  row  cost    credits                                   cost + credits
  cud  10.00   CUD -6.00, SUD -1.50                      2.50
  sud   4.00   SUD -0.80, FREE_TIER -0.20                3.00
  bq    5.00   PROMOTION -5.00                           0.00
  run   2.00   COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE -0.40 1.60
  tax   0.35   —                                         0.35
  fee   6.00   —                                         6.00   (the commitment's fee: Purchase)
  Σ cost 27.35, Σ credits -13.90, Σ BilledCost 13.45.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spendscope.generator.gcp_export import json_rows

MONTH = "202611"
CUD_ID = "projects/acme-data-prod/regions/us-central1/commitments/cud-n2-1y"


def _row(key: str, service: str, sku: str, cost: str, credits: list[tuple[str, str, str]], **kw: Any) -> dict[str, Any]:
    start = datetime(2026, 11, 3, 10, tzinfo=UTC)
    return {
        "billing_account_id": "01A2B3-C4D5E6-F7A8B9",
        "service": {"id": f"svc-{service[:3]}", "description": service},
        "sku": {"id": f"SKU-{key.upper()}", "description": sku},
        "usage_start_time": start,
        "usage_end_time": start.replace(hour=11),
        "project": {
            "id": "acme-data-prod",
            "number": "123",
            "name": "Data Platform (prod)",
            "labels": [{"key": "team", "value": "data-platform"}],
        },
        "labels": [{"key": "team", "value": "data"}, {"key": "app", "value": key}],
        "system_labels": [{"key": "compute.googleapis.com/machine_spec", "value": "n2-standard-8"}],
        "location": {"location": "us-central1", "country": "US", "region": "us-central1", "zone": "us-central1-a"},
        "resource": {"name": f"{key}-1", "global_name": f"//compute.googleapis.com/projects/acme-data-prod/{key}-1"},
        "export_time": datetime(2026, 11, 3, 15, tzinfo=UTC),
        "cost": float(cost),
        "currency": kw.get("currency", "USD"),
        "currency_conversion_rate": 1.0,
        "usage": {"amount": 3600.0, "unit": "seconds", "amount_in_pricing_units": 8.0, "pricing_unit": "hour"},
        "credits": [
            {"name": f"{t} credit", "amount": float(a), "full_name": f"{t} credit", "id": i, "type": t}
            for t, a, i in credits
        ],
        "invoice": {"month": MONTH},
        "cost_type": kw.get("cost_type", "regular"),
        "cost_at_list": float(cost) * 1.25,
    }


def credit_rows(*, currency: str = "USD") -> list[dict[str, Any]]:
    return [
        _row(
            "cud",
            "Compute Engine",
            "N2 Instance Core running in Americas",
            "10.00",
            [("COMMITTED_USAGE_DISCOUNT", "-6.00", CUD_ID), ("SUSTAINED_USAGE_DISCOUNT", "-1.50", "sud")],
            currency=currency,
        ),
        _row(
            "sud",
            "Compute Engine",
            "N2 Instance Ram running in Americas",
            "4.00",
            [("SUSTAINED_USAGE_DISCOUNT", "-0.80", "sud"), ("FREE_TIER", "-0.20", "free-tier")],
        ),
        _row("bq", "BigQuery", "Analysis", "5.00", [("PROMOTION", "-5.00", "promotions/trial")]),
        _row(
            "run",
            "Cloud Run",
            "CPU Allocation Time",
            "2.00",
            [("COMMITTED_USAGE_DISCOUNT_DOLLAR_BASE", "-0.40", "cud-flex-1")],
        ),
        _row("tax", "Compute Engine", "Tax", "0.35", [], cost_type="tax"),
        _row("fee", "Compute Engine", "Commitment v1: N2 Cpu in Americas for 1 Year", "6.00", []),
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]], *, drop: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for row in json_rows(rows):
            fh.write(json.dumps({k: v for k, v in row.items() if k not in drop}) + "\n")
    return path
