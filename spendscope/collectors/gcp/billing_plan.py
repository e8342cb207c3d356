"""How one file shaped like the Google Cloud Billing export (Parquet or newline-delimited JSON) is read.

The export's columns are nested (``service.description``, ``credits[].amount``); the plan flattens the
fields the mapping reads into one subquery, with NULL for optional fields the file lacks, and hands it
to ``sql/collectors/gcp_billing_to_focus.sql``. Required fields missing → SchemaMismatch naming the
file (or the BigQuery table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from spendscope import sql
from spendscope.errors import BadData, SchemaMismatch, SpendscopeError
from spendscope.fileformats import diagnose_casts
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan

KV: Final = "STRUCT(key VARCHAR, value VARCHAR)[]"
CREDITS: Final = "STRUCT(name VARCHAR, amount DOUBLE, full_name VARCHAR, id VARCHAR, type VARCHAR)[]"
# The documented export schema (standard + detailed's resource), as DuckDB types, for JSON copies.
EXPORT_COLUMNS: Final = {
    "billing_account_id": "VARCHAR",
    "service": "STRUCT(id VARCHAR, description VARCHAR)",
    "sku": "STRUCT(id VARCHAR, description VARCHAR)",
    "usage_start_time": "TIMESTAMPTZ",
    "usage_end_time": "TIMESTAMPTZ",
    "project": f"STRUCT(id VARCHAR, number VARCHAR, name VARCHAR, labels {KV})",
    "labels": KV,
    "system_labels": KV,
    "location": "STRUCT(location VARCHAR, country VARCHAR, region VARCHAR, zone VARCHAR)",
    "resource": "STRUCT(name VARCHAR, global_name VARCHAR)",
    "export_time": "TIMESTAMPTZ",
    "cost": "DOUBLE",
    "currency": "VARCHAR",
    "currency_conversion_rate": "DOUBLE",
    "usage": "STRUCT(amount DOUBLE, unit VARCHAR, amount_in_pricing_units DOUBLE, pricing_unit VARCHAR)",
    "credits": CREDITS,
    "invoice": "STRUCT(month VARCHAR)",
    "cost_type": "VARCHAR",
    "cost_at_list": "DOUBLE",
}
REQUIRED: Final = (
    "billing_account_id",
    "service",
    "sku",
    "usage_start_time",
    "usage_end_time",
    "project",
    "cost",
    "currency",
    "credits",
    "invoice",
    "cost_type",
    "export_time",
)
# alias → (top-level column, sub-field or None, DuckDB type)
FLAT: Final = {
    "billing_account_id": ("billing_account_id", None, "VARCHAR"),
    "service_description": ("service", "description", "VARCHAR"),
    "sku_id": ("sku", "id", "VARCHAR"),
    "sku_description": ("sku", "description", "VARCHAR"),
    "usage_start_time": ("usage_start_time", None, "TIMESTAMPTZ"),
    "usage_end_time": ("usage_end_time", None, "TIMESTAMPTZ"),
    "project_id": ("project", "id", "VARCHAR"),
    "project_name": ("project", "name", "VARCHAR"),
    "project_labels": ("project", "labels", KV),
    "labels": ("labels", None, KV),
    "system_labels": ("system_labels", None, KV),
    "location_region": ("location", "region", "VARCHAR"),
    "location_zone": ("location", "zone", "VARCHAR"),
    "resource_name": ("resource", "name", "VARCHAR"),
    "resource_global_name": ("resource", "global_name", "VARCHAR"),
    "export_time": ("export_time", None, "TIMESTAMPTZ"),
    "cost": ("cost", None, "DOUBLE"),
    "currency": ("currency", None, "VARCHAR"),
    "currency_conversion_rate": ("currency_conversion_rate", None, "DOUBLE"),
    "usage_amount_in_pricing_units": ("usage", "amount_in_pricing_units", "DOUBLE"),
    "usage_pricing_unit": ("usage", "pricing_unit", "VARCHAR"),
    "credits": ("credits", None, CREDITS),
    "invoice_month": ("invoice", "month", "VARCHAR"),
    "cost_type": ("cost_type", None, "VARCHAR"),
    "cost_at_list": ("cost_at_list", None, "DOUBLE"),
}
CREDIT_FIELDS: Final = ("name", "amount", "full_name", "id", "type")


def _fields(t: pa.DataType) -> set[str] | None:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    if pa.types.is_struct(t):
        return {t.field(i).name for i in range(t.num_fields)}
    return None


def _arrow_shape(schema: pa.Schema) -> dict[str, set[str] | None]:
    return {f.name: _fields(f.type) for f in schema}


def json_reader() -> str:
    """read_json of one NDJSON file ($path) with the documented export types (gzip by extension)."""
    cols = ", ".join(f"'{k}': '{v}'" for k, v in EXPORT_COLUMNS.items())
    return f"read_json($path, format = 'newline_delimited', columns = {{{cols}}})"


def plan_export_file(conn: duckdb.DuckDBPyConnection, file: SourceFile, local_path: str) -> FilePlan:
    """The FilePlan reading one export-shaped file at ``local_path``; ``file`` names it in the ledger."""
    path = Path(local_path)
    with path.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    shape: dict[str, set[str] | None]
    if parquet:
        try:
            shape = _arrow_shape(pq.read_schema(path))
        except (OSError, pa.ArrowException) as exc:
            raise BadData(f"not a readable Parquet file: {exc}", source=file.path) from exc
        reader = "read_parquet($path)"
    else:
        try:
            described = conn.execute(
                "DESCRIBE SELECT * FROM read_json($path, format = 'newline_delimited')", {"path": local_path}
            ).fetchall()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0]
            raise BadData(f"not readable newline-delimited JSON: {first}", source=file.path) from exc
        present = {str(r[0]) for r in described}
        shape = {k: _fields_of(v) for k, v in EXPORT_COLUMNS.items() if k in present}
        reader = json_reader()
    missing = [c for c in REQUIRED if c not in shape]
    if missing:
        raise SchemaMismatch(
            f"not a Cloud Billing export: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
            source=file.path,
        )
    export = export_subquery(shape, reader)
    select_sql = sql.load("collectors/gcp_billing_to_focus").replace("{export}", export)
    params: dict[str, object] = {"path": local_path, "categories": sql.reference_path("gcp_service_categories.csv")}
    deviations: dict[str, object] = {"format": "parquet" if parquet else "jsonl", "gcp_format": "billing export"}

    def diagnose(_: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
        if parquet:
            columns = [("cost", '"cost"', "DOUBLE"), ("export_time", '"export_time"', "TIMESTAMPTZ")]
            return diagnose_casts(file.path, local_path, "parquet", columns, exc)
        first = str(exc).strip().splitlines()[0]
        return BadData(f"cannot read file: {first}; nothing was loaded", source=file.path)

    return FilePlan(file, select_sql, params, diagnose, deviations)


def export_subquery(shape: dict[str, set[str] | None], reader: str) -> str:
    """The ``{export}`` subquery of gcp_billing_to_focus.sql for a file whose top-level columns and their
    sub-fields are ``shape``, read by ``reader`` (a table function or table name)."""
    exprs = []
    for alias, (top, sub, kind) in FLAT.items():
        subs = shape.get(top, set())
        if top not in shape or (sub is not None and (subs is None or sub not in subs)):
            exprs.append(f"CAST(NULL AS {kind}) AS {alias}")
        elif alias == "credits":
            have = subs or set()
            parts = ", ".join(f"'{f}': {'c.' + f if f in have else 'NULL'}" for f in CREDIT_FIELDS)
            exprs.append(f"CAST(list_transform(credits, c -> {{{parts}}}) AS {CREDITS}) AS credits")
        else:
            ref = f'"{top}"' if sub is None else f'"{top}"."{sub}"'
            exprs.append(f"CAST({ref} AS {kind}) AS {alias}")
    return f"SELECT {', '.join(exprs)} FROM {reader}"


def _fields_of(duck_type: str) -> set[str] | None:
    """Sub-field names of one of EXPORT_COLUMNS' STRUCT types (every documented field is read)."""
    if not duck_type.startswith("STRUCT("):
        return None
    inner = duck_type[len("STRUCT(") :].split(")")[0]
    return {part.strip().split(" ")[0] for part in inner.split(",")}
