"""The generated Google Cloud month, re-shaped as the Cloud Billing export to BigQuery.

``write_gcp_export(focus_dir, out_dir)`` reads the generated GCP FOCUS Parquet of one month
(``focus/gcp/YYYY-MM/part-*.parquet``) and writes the same bill as export rows, in newline-delimited
JSON and Parquet, with the nested REPEATED RECORD columns the export documents (``labels``,
``project.labels``, ``system_labels``, ``credits``). How the FOCUS rows become export rows, as GCP
exports them:

- committed-use covered usage: ``cost`` = the on-demand (contracted) cost and a
  COMMITTED_USAGE_DISCOUNT credit of minus that amount, id = the commitment;
- the commitment fee: a regular row on the "Commitment v1: …" SKU; the FOCUS Unused rows have no
  export row (their cost is inside the fee);
- the promotional credit: PROMOTION credits on the same service's usage rows (never above a row's cost);
- tax: ``cost_type`` tax. The invoice total (Σ cost + Σ credits) equals the FOCUS Σ BilledCost.

With ``late_rows`` about 3% of usage rows get an export_time two days after the rest (late data).
``create_export_table`` / ``insert_export_rows`` put rows into BigQuery with the documented schema.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

_KV = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
_TS = pa.timestamp("us", tz="UTC")
ARROW_SCHEMA = pa.schema(
    [
        ("billing_account_id", pa.string()),
        ("service", pa.struct([("id", pa.string()), ("description", pa.string())])),
        ("sku", pa.struct([("id", pa.string()), ("description", pa.string())])),
        ("usage_start_time", _TS),
        ("usage_end_time", _TS),
        ("project", pa.struct([("id", pa.string()), ("number", pa.string()), ("name", pa.string()), ("labels", _KV)])),
        ("labels", _KV),
        ("system_labels", _KV),
        (
            "location",
            pa.struct(
                [("location", pa.string()), ("country", pa.string()), ("region", pa.string()), ("zone", pa.string())]
            ),
        ),
        ("resource", pa.struct([("name", pa.string()), ("global_name", pa.string())])),
        ("export_time", _TS),
        ("cost", pa.float64()),
        ("currency", pa.string()),
        ("currency_conversion_rate", pa.float64()),
        (
            "usage",
            pa.struct(
                [
                    ("amount", pa.float64()),
                    ("unit", pa.string()),
                    ("amount_in_pricing_units", pa.float64()),
                    ("pricing_unit", pa.string()),
                ]
            ),
        ),
        (
            "credits",
            pa.list_(
                pa.struct(
                    [
                        ("name", pa.string()),
                        ("amount", pa.float64()),
                        ("full_name", pa.string()),
                        ("id", pa.string()),
                        ("type", pa.string()),
                    ]
                )
            ),
        ),
        ("invoice", pa.struct([("month", pa.string())])),
        ("cost_type", pa.string()),
        ("cost_at_list", pa.float64()),
    ]
)
TIMESTAMP_COLUMNS = ("usage_start_time", "usage_end_time", "export_time")
_PRICING_UNIT = {
    "Hours": "hour",
    "vCPU-Hours": "hour",
    "GiB-Hours": "gibibyte hour",
    "GiB-Months": "gibibyte month",
    "GiB": "gibibyte",
    "TiB": "tebibyte",
    "1000 Requests": "thousand requests",
    "1000000 Requests": "million requests",
    "vCPU-Seconds": "second",
}


@dataclass(frozen=True, slots=True)
class GcpExportResult:
    month: str
    """The invoice month, YYYYMM."""
    jsonl: Path
    parquet: Path
    rows: list[dict[str, Any]]
    """On-time rows (timestamps as datetime)."""
    late_rows: list[dict[str, Any]]
    """Rows with a later export_time (also in the files)."""


def _kv(obj: dict[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": str(k), "value": str(v)} for k, v in sorted((obj or {}).items())]


def write_gcp_export(focus_dir: Path, out_dir: Path, *, late_rows: bool = True) -> GcpExportResult:
    """Export rows for the one month in ``focus_dir`` (a ``focus/gcp/YYYY-MM`` folder or its parent)."""
    files = sorted(Path(focus_dir).rglob("part-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no part-*.parquet under {focus_dir}")
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    rel = conn.execute(
        "SELECT * FROM read_parquet($f) WHERE CommitmentDiscountStatus IS DISTINCT FROM 'Unused' "
        "ORDER BY ChargePeriodStart, SubAccountId, ServiceName, SkuId, ResourceId, ChargeCategory",
        {"f": [str(p) for p in files]},
    )
    columns = [d[0] for d in rel.description]
    focus = [dict(zip(columns, r, strict=True)) for r in rel.fetchall()]
    conn.close()
    month = focus[0]["BillingPeriodStart"].strftime("%Y%m")
    promos = [r for r in focus if r["ChargeCategory"] == "Credit"]
    out: list[dict[str, Any]] = []
    for i, r in enumerate(r for r in focus if r["ChargeCategory"] != "Credit"):
        out.append(_export_row(r, month, i))
    for promo in promos:
        remaining = -promo["BilledCost"]
        for row in out:
            if remaining <= 0:
                break
            if (
                row["service"]["description"] == promo["ServiceName"]
                and row["cost_type"] == "regular"
                and row["cost"] > 0
            ):
                amount = min(remaining, Decimal(str(row["cost"])))
                row["credits"].append(
                    {
                        "name": promo["ChargeDescription"],
                        "amount": -float(amount),
                        "full_name": promo["ChargeDescription"],
                        "id": "promotions/bigquery-migration",
                        "type": "PROMOTION",
                    }
                )
                remaining -= amount
    late: list[dict[str, Any]] = []
    on_time: list[dict[str, Any]] = []
    last = max(r["export_time"] for r in out)
    for i, row in enumerate(out):
        if late_rows and row["cost_type"] == "regular" and not row["credits"] and i % 33 == 7:
            row["export_time"] = last + timedelta(days=2)
            late.append(row)
        else:
            on_time.append(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / f"gcp_billing_export_{month}.jsonl"
    with jsonl.open("w", encoding="utf-8") as fh:
        for row in json_rows(on_time + late):
            fh.write(json.dumps(row) + "\n")
    parquet = out_dir / f"gcp_billing_export_{month}.parquet"
    pq.write_table(pa.Table.from_pylist(on_time + late, schema=ARROW_SCHEMA), parquet)
    return GcpExportResult(month, jsonl, parquet, on_time, late)


def _export_row(r: dict[str, Any], month: str, i: int) -> dict[str, Any]:
    used = r["CommitmentDiscountStatus"] == "Used"
    cost = r["ContractedCost"] if used else r["BilledCost"]
    unit = r["PricingUnit"]
    qty = r["PricingQuantity"]
    tags = json.loads(r["Tags"]) if r["Tags"] else {}
    credits = []
    if used:
        credits.append(
            {
                "name": f"Committed use discount: {r['CommitmentDiscountName']}",
                "amount": -float(cost),
                "full_name": r["CommitmentDiscountName"],
                "id": r["CommitmentDiscountId"],
                "type": "COMMITTED_USAGE_DISCOUNT",
            }
        )
    project = r["SubAccountId"]
    return {
        "billing_account_id": r["BillingAccountId"],
        "service": {"id": f"svc-{zlib.crc32(r['ServiceName'].encode()):08X}", "description": r["ServiceName"]},
        "sku": {"id": r["SkuId"], "description": r["SkuMeter"] or r["ChargeDescription"]},
        "usage_start_time": r["ChargePeriodStart"],
        "usage_end_time": r["ChargePeriodEnd"],
        "project": {
            "id": project,
            "number": None,
            "name": r["SubAccountName"],
            "labels": [{"key": "env", "value": project.rsplit("-", 1)[-1]}] if project else [],
        },
        "labels": _kv(tags),
        "system_labels": [],
        "location": {
            "location": r["RegionId"] or "global",
            "country": None,
            "region": r["RegionId"],
            "zone": r["AvailabilityZone"],
        },
        "resource": {"name": r["ResourceName"] or r["ResourceId"], "global_name": r["ResourceId"]},
        "export_time": r["ChargePeriodEnd"] + timedelta(hours=4, seconds=i % 60),
        "cost": float(cost),
        "currency": r["BillingCurrency"],
        "currency_conversion_rate": 1.0,
        "usage": {
            "amount": None if qty is None else float(qty),
            "unit": _PRICING_UNIT.get(unit, unit),
            "amount_in_pricing_units": None if qty is None else float(qty),
            "pricing_unit": _PRICING_UNIT.get(unit, unit),
        },
        "credits": credits,
        "invoice": {"month": month},
        "cost_type": "tax" if r["ChargeCategory"] == "Tax" else "regular",
        "cost_at_list": None if r["ListCost"] is None else float(r["ListCost"]),
    }


def json_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with timestamps as ISO-8601 UTC strings (for NDJSON and ``insert_rows_json``)."""
    out = []
    for row in rows:
        row = dict(row)
        for col in TIMESTAMP_COLUMNS:
            value = row[col]
            if isinstance(value, datetime):
                row[col] = value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        out.append(row)
    return out


def bigquery_schema() -> list[Any]:
    """The export table schema as documented (REPEATED RECORD labels, system_labels, credits)."""
    from google.cloud.bigquery import SchemaField as F

    kv = [F("key", "STRING"), F("value", "STRING")]
    return [
        F("billing_account_id", "STRING"),
        F("service", "RECORD", fields=[F("id", "STRING"), F("description", "STRING")]),
        F("sku", "RECORD", fields=[F("id", "STRING"), F("description", "STRING")]),
        F("usage_start_time", "TIMESTAMP"),
        F("usage_end_time", "TIMESTAMP"),
        F(
            "project",
            "RECORD",
            fields=[
                F("id", "STRING"),
                F("number", "STRING"),
                F("name", "STRING"),
                F("labels", "RECORD", mode="REPEATED", fields=kv),
            ],
        ),
        F("labels", "RECORD", mode="REPEATED", fields=kv),
        F("system_labels", "RECORD", mode="REPEATED", fields=kv),
        F(
            "location",
            "RECORD",
            fields=[F("location", "STRING"), F("country", "STRING"), F("region", "STRING"), F("zone", "STRING")],
        ),
        F("resource", "RECORD", fields=[F("name", "STRING"), F("global_name", "STRING")]),
        F("export_time", "TIMESTAMP"),
        F("cost", "FLOAT"),
        F("currency", "STRING"),
        F("currency_conversion_rate", "FLOAT"),
        F(
            "usage",
            "RECORD",
            fields=[
                F("amount", "FLOAT"),
                F("unit", "STRING"),
                F("amount_in_pricing_units", "FLOAT"),
                F("pricing_unit", "STRING"),
            ],
        ),
        F(
            "credits",
            "RECORD",
            mode="REPEATED",
            fields=[
                F("name", "STRING"),
                F("amount", "FLOAT"),
                F("full_name", "STRING"),
                F("id", "STRING"),
                F("type", "STRING"),
            ],
        ),
        F("invoice", "RECORD", fields=[F("month", "STRING")]),
        F("cost_type", "STRING"),
        F("cost_at_list", "FLOAT"),
    ]


def create_export_table(client: Any, table_id: str, *, schema: list[Any] | None = None) -> Any:
    """Create ``project.dataset.table`` (and its dataset), day-partitioned on usage_start_time."""
    from google.cloud import bigquery

    project, dataset, _ = table_id.split(".")
    client.create_dataset(f"{project}.{dataset}", exists_ok=True)
    table = bigquery.Table(table_id, schema=schema or bigquery_schema())
    table.time_partitioning = bigquery.TimePartitioning(field="usage_start_time")
    return client.create_table(table)


def insert_export_rows(client: Any, table: Any, rows: list[dict[str, Any]], *, chunk: int = 500) -> None:
    """insert_rows_json in chunks; raises RuntimeError listing the first row errors."""
    data = json_rows(rows)
    for start in range(0, len(data), chunk):
        errors = client.insert_rows_json(table, data[start : start + chunk])
        if errors:
            raise RuntimeError(f"insert_rows_json: {errors[:3]}")
