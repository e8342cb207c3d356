"""AWS Cost and Usage Reports (CUR 2.0 Data Exports and legacy CUR; Parquet or CSV/CSV.gz) → FOCUS.

The format is detected from the columns, not the path: CUR 2.0 and legacy Parquet use snake_case
(``line_item_unblended_cost``), legacy CSV uses ``lineItem/UnblendedCost`` (converted the way AWS's
Athena integration does), and a file with FOCUS columns (AWS's FOCUS 1.0/1.2 exports) goes to the
FOCUS collector. The mapping itself is SQL: ``sql/collectors/aws_cur_to_focus.sql``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import duckdb

from spendscope import sql
from spendscope.collectors.focus import plan_file as plan_focus_file
from spendscope.collectors.focus import quote_ident
from spendscope.errors import BadData, SchemaMismatch, SpendscopeError
from spendscope.fileformats import diagnose_casts, file_format, reader_sql
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan

# Columns the mapping reads (CUR 2.0 names). Missing optional columns are NULL.
REQUIRED: Final = (
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "bill_payer_account_id",
    "line_item_currency_code",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_unblended_cost",
    "line_item_usage_account_id",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
)
OPTIONAL: Final = (
    "bill_billing_entity",
    "bill_invoice_id",
    "bill_invoicing_entity",
    "bill_payer_account_name",
    "line_item_availability_zone",
    "line_item_line_item_description",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_account_name",
    "line_item_usage_amount",
    "line_item_usage_type",
    "pricing_currency",
    "pricing_public_on_demand_cost",
    "pricing_term",
    "pricing_unit",
    "reservation_reservation_a_r_n",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
)
# Product attributes: a column in legacy CUR, a key of the `product` MAP in CUR 2.0.
PRODUCT: Final = {
    "product_product_name": ("product_name",),
    "product_region_code": ("region_code", "region"),
    "product_location": ("location",),
    "product_sku": ("sku",),
    "product_product_family": ("product_family",),
}
NUMERIC: Final = (
    "line_item_unblended_cost",
    "line_item_usage_amount",
    "pricing_public_on_demand_cost",
    "reservation_effective_cost",
    "reservation_unused_amortized_upfront_fee_for_billing_period",
    "reservation_unused_recurring_fee",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
)
TIMESTAMPS: Final = (
    "bill_billing_period_start_date",
    "bill_billing_period_end_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
)
_LEGACY_TAG = re.compile(r"^(resourceTags/user:|resource_tags_user_)(.+)$")


def snake(name: str) -> str:
    """Legacy CSV header → CUR 2.0 column name, as AWS's Athena integration names them:
    ``lineItem/UnblendedCost`` → ``line_item_unblended_cost``, ``reservation/ReservationARN`` →
    ``reservation_reservation_a_r_n``."""
    if "/" not in name:
        return name.strip().lower()
    category, _, attr = name.partition("/")

    def conv(part: str) -> str:
        return re.sub(r"([A-Z])", r"_\1", part).lower().strip("_")

    return f"{conv(category)}_{conv(attr)}"


def is_focus(columns: set[str]) -> bool:
    return {"BilledCost", "ChargeCategory", "BillingPeriodStart"} <= columns


def plan_cur_file(conn: duckdb.DuckDBPyConnection, file: SourceFile, local_path: str) -> FilePlan:
    """The FilePlan reading one CUR (or FOCUS) file at ``local_path``; ``file`` names it in the ledger."""
    fmt = file_format(Path(local_path))
    try:
        described = conn.execute(f"DESCRIBE SELECT * FROM {reader_sql(fmt)}", {"path": local_path}).fetchall()
    except duckdb.Error as exc:
        kind = "Parquet" if fmt == "parquet" else "CSV"
        raise BadData(f"not a readable {kind} file: {str(exc).strip().splitlines()[0]}", source=file.path) from exc
    raw = {str(r[0]): str(r[1]) for r in described}
    if is_focus({n.lstrip("\ufeff").strip() for n in raw}):
        focus_plan = plan_focus_file(conn, SourceFile(local_path, file.size, file.mtime_ns, file.sha256))
        return FilePlan(
            file,
            focus_plan.select_sql,
            focus_plan.params,
            focus_plan.diagnose,
            {**focus_plan.deviations, "aws_format": "FOCUS"},
        )
    params: dict[str, object] = {"path": local_path, "categories": sql.reference_path("aws_service_categories.csv")}
    cur, by_snake, aws_format = cur_subquery(raw, reader_sql(fmt), params, source=file.path)
    select_sql = sql.load("collectors/aws_cur_to_focus").replace("{cur}", cur)
    deviations: dict[str, object] = {"format": fmt, "aws_format": aws_format, "focus_version": "1.2"}

    def diagnose(_: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
        return _diagnose(file.path, local_path, fmt, by_snake, exc)

    return FilePlan(file, select_sql, params, diagnose, deviations)


def cur_subquery(
    raw: dict[str, str], reader: str, params: dict[str, object], *, source: str
) -> tuple[str, dict[str, str], str]:
    """The ``{cur}`` subquery of aws_cur_to_focus.sql for a file with columns ``raw`` (name → DuckDB type)
    read by ``reader`` (a table function or table name); adds legacy tag-key parameters to ``params``.
    Returns (subquery, CUR 2.0 name → file column, format name); SchemaMismatch naming ``source``."""
    by_snake = {snake(n): n for n in raw}
    missing = [c for c in REQUIRED if c not in by_snake]
    if missing:
        raise SchemaMismatch(
            f"not a CUR or FOCUS file: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            source=source,
        )
    legacy_csv = any("/" in n for n in raw)
    aws_format = "legacy CUR CSV" if legacy_csv else ("CUR 2.0" if "product" in raw else "legacy CUR Parquet")
    exprs = []
    for col in (*REQUIRED, *OPTIONAL):
        exprs.append(f"{quote_ident(by_snake[col])} AS {col}" if col in by_snake else f"NULL AS {col}")
    product_map = "product" in raw and raw["product"].startswith("MAP")
    for col, keys in PRODUCT.items():
        if col in by_snake:
            exprs.append(f"{quote_ident(by_snake[col])} AS {col}")
        elif product_map:
            options = ", ".join(f"map_extract_value(\"product\", '{k}')" for k in keys)
            exprs.append(f"coalesce({options}) AS {col}")
        else:
            exprs.append(f"NULL AS {col}")
    exprs.append(f"{_tags_expr(raw, params)} AS tags_json")
    return f"SELECT {', '.join(exprs)} FROM {reader}", by_snake, aws_format


def _tags_expr(raw: dict[str, str], params: dict[str, object]) -> str:
    """A JSON object of the user tags: CUR 2.0's resource_tags MAP, or legacy per-tag columns."""
    if "resource_tags" in raw and raw["resource_tags"].startswith("MAP"):
        return (
            "to_json(map_from_entries(list_filter(list_transform(map_entries(resource_tags), "
            "e -> {'key': regexp_replace(e.key, '^user[_:]', ''), 'value': e.value}), "
            "e -> e.value IS NOT NULL AND e.value <> '')))"
        )
    pairs = []
    for i, name in enumerate(raw):
        m = _LEGACY_TAG.match(name)
        if m:
            params[f"tag{i}"] = m.group(2)
            pairs.append(f"$tag{i}, NULLIF(CAST({quote_ident(name)} AS VARCHAR), '')")
    if not pairs:
        return "NULL::JSON"
    return f"json_merge_patch('{{}}', json_object({', '.join(pairs)}))"


def _diagnose(name: str, local_path: str, fmt: str, by_snake: dict[str, str], exc: duckdb.Error) -> SpendscopeError:
    columns = [
        (col, quote_ident(by_snake[col]), "DECIMAL(38, 12)" if col in NUMERIC else "TIMESTAMPTZ")
        for col in (*NUMERIC, *TIMESTAMPS)
        if col in by_snake
    ]
    return diagnose_casts(name, local_path, fmt, columns, exc)
