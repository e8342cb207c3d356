"""How one downloaded Cost Management export file is read as FOCUS rows (EA, MCA or FOCUS columns).

The agreement is detected from the columns, not the path: EA files name the currency
``BillingCurrencyCode`` and the resource group ``ResourceGroup``; MCA files use camelCase
``billingCurrency`` and ``resourceGroupName`` (Microsoft Learn, "Enterprise Agreement cost and usage
details file schema" and "Microsoft Customer Agreement cost and usage details file schema"). Column
names are matched case-insensitively, as both schemas mix cases (EA's ``benefitId``, MCA's
``ProductName``). A file with FOCUS columns (a FocusCost export) goes to the FOCUS collector. The
mapping itself is SQL: ``sql/collectors/azure_cost_to_focus.sql``.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any, Final, Literal

import duckdb

from spendscope import sql
from spendscope.collectors.focus import plan_file as plan_focus_file
from spendscope.collectors.focus import quote_ident
from spendscope.errors import BadData, SchemaMismatch, SpendscopeError
from spendscope.fileformats import file_format
from spendscope.warehouse.files import SourceFile
from spendscope.warehouse.load import FilePlan

Agreement = Literal["EA", "MCA"]
Role = Literal["amortized", "actual_purchases", "actual"]

# The `cost` columns of azure_cost_to_focus.sql → the file column for each agreement (matched
# case-insensitively; the first name present wins). A fixed set: no identifier comes from a file.
COLUMNS: Final[dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    #                           EA names                                  MCA names
    "billing_account_id": (("BillingAccountId",), ("billingProfileId",)),
    "billing_account_name": (("BillingAccountName",), ("billingProfileName",)),
    "billing_profile_id": (("BillingProfileId",), ("billingProfileId",)),
    "billing_currency": (("BillingCurrencyCode", "BillingCurrency"), ("billingCurrency", "billingCurrencyCode")),
    "pricing_currency": ((), ("pricingCurrency",)),
    "billing_period_start": (("BillingPeriodStartDate",), ("billingPeriodStartDate",)),
    "billing_period_end": (("BillingPeriodEndDate",), ("billingPeriodEndDate",)),
    "charge_date": (("Date", "UsageDate"), ("date",)),
    "subscription_id": (("SubscriptionId",), ("subscriptionId",)),
    "subscription_name": (("SubscriptionName",), ("subscriptionName",)),
    "resource_group": (("ResourceGroup", "ResourceGroupName"), ("resourceGroupName", "resourceGroup")),
    "resource_id": (("ResourceId", "InstanceId"), ("resourceId", "InstanceName")),
    "resource_name": (("ResourceName",), ()),
    "resource_location": (("ResourceLocation",), ("resourceLocation",)),
    "location_normalized": (("ResourceLocationNormalized",), ("location",)),
    "meter_category": (("MeterCategory",), ("meterCategory",)),
    "meter_subcategory": (("MeterSubCategory",), ("meterSubCategory",)),
    "meter_name": (("MeterName",), ("meterName",)),
    "meter_id": (("MeterId",), ("meterId",)),
    "product_name": (("ProductName", "Product"), ("productName", "product")),
    "product_id": ((), ("productId",)),
    "consumed_service": (("ConsumedService",), ("consumedService",)),
    "quantity": (("Quantity",), ("quantity",)),
    "unit_of_measure": (("UnitOfMeasure",), ("unitOfMeasure",)),
    "unit_price": (("UnitPrice",), ("unitPrice",)),
    "payg_price": (("PayGPrice",), ("payGPrice",)),
    "cost": (("CostInBillingCurrency",), ("costInBillingCurrency",)),
    "cost_in_pricing_currency": ((), ("costInPricingCurrency",)),
    "payg_cost": ((), ("paygCostInBillingCurrency",)),
    "exchange_rate": ((), ("exchangeRatePricingToBilling",)),
    "charge_type": (("ChargeType",), ("chargeType",)),
    "frequency": (("Frequency",), ("frequency",)),
    "pricing_model": (("PricingModel",), ("pricingModel",)),
    "reservation_id": (("ReservationId",), ("reservationId",)),
    "reservation_name": (("ReservationName",), ("reservationName",)),
    "benefit_id": (("BenefitId",), ("benefitId",)),
    "benefit_name": (("BenefitName",), ("benefitName",)),
    "tags": (("Tags",), ("tags",)),
    "publisher_name": (("PublisherName",), ("publisherName",)),
    "invoice_id": ((), ("invoiceId",)),
    "partner_name": ((), ("partnerName",)),
    "part_number": (("PartNumber",), ("partNumber",)),
}
REQUIRED: Final[dict[Agreement, tuple[str, ...]]] = {
    "EA": ("BillingAccountId", "BillingCurrencyCode", "CostInBillingCurrency", "Date", "SubscriptionId", "ChargeType"),
    "MCA": ("billingProfileId", "billingCurrency", "costInBillingCurrency", "date", "subscriptionId", "chargeType"),
}
NUMERIC: Final = (
    "cost",
    "quantity",
    "unit_price",
    "payg_price",
    "payg_cost",
    "cost_in_pricing_currency",
    "exchange_rate",
)
DATES: Final = ("charge_date", "billing_period_start", "billing_period_end")


def csv_header(path: Path) -> list[str]:
    """The header row of a CSV or gzip CSV export (only the first line is read)."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return next(csv.reader(fh), [])


def reader(fmt: str, path: Path) -> tuple[str, dict[str, object]]:
    """The table function reading one export file (bound as $path) and its parameters. Cost Management
    CSV is comma-separated with double quotes and a header row: nothing is sniffed, every column is
    text, and a malformed row is an error naming its line rather than a guessed dialect."""
    if fmt == "parquet":
        return "read_parquet($path)", {"path": str(path)}
    columns = dict.fromkeys(csv_header(path), "VARCHAR")
    sql_text = (
        "read_csv($path, header = true, delim = ',', quote = '\"', escape = '\"', nullstr = '', "
        "auto_detect = false, columns = $csv_columns)"
    )
    return sql_text, {"path": str(path), "csv_columns": columns}


def is_focus(columns: set[str]) -> bool:
    return {"BilledCost", "ChargeCategory", "BillingPeriodStart"} <= columns


def detect_agreement(columns: list[str], *, source: str) -> Agreement:
    """EA or MCA from the column set; SchemaMismatch naming what each lacks when it is neither."""
    have = {c.lstrip("\ufeff").strip().lower() for c in columns}
    missing = {a: [c for c in req if c.lower() not in have] for a, req in REQUIRED.items()}
    if not missing["EA"] and "billingcurrencycode" in have:
        return "EA"
    if not missing["MCA"]:
        return "MCA"
    raise SchemaMismatch(
        "neither an EA nor an MCA cost details file (nor FOCUS): missing EA column(s) "
        f"{', '.join(missing['EA'])}; missing MCA column(s) {', '.join(missing['MCA'])}",
        source=source,
    )


def plan_export_file(
    conn: duckdb.DuckDBPyConnection, file: SourceFile, local_path: str, *, role: Role | Literal["focus"]
) -> FilePlan:
    """The FilePlan reading one downloaded export file; ``file`` names the blob in the ledger and in errors."""
    fmt = file_format(Path(local_path))
    kind = "Parquet" if fmt == "parquet" else "CSV"
    try:
        table, params = reader(fmt, Path(local_path))
        if params.get("csv_columns") == {}:
            raise BadData("empty CSV file (no header row)", source=file.path)
        described = conn.execute(f"DESCRIBE SELECT * FROM {table}", params).fetchall()
    except (duckdb.Error, csv.Error, OSError, UnicodeDecodeError, EOFError) as exc:
        raise BadData(
            f"not a readable {kind} file: {_error_line(exc, local_path, file.path)}", source=file.path
        ) from None
    raw = {str(r[0]): str(r[1]) for r in described}
    if is_focus({n.lstrip("\ufeff").strip() for n in raw}):
        return _plan_focus(conn, file, local_path)
    agreement = detect_agreement(list(raw), source=file.path)
    if role == "focus":
        raise SchemaMismatch("a FocusCost export without FOCUS columns", source=file.path)
    cost, chosen = cost_subquery(raw, table, agreement)
    select_sql = sql.load("collectors/azure_cost_to_focus").replace("{cost}", cost)
    params |= {
        "role": role,
        "agreement": agreement,
        "categories": sql.reference_path("azure_service_categories.csv"),
    }
    deviations: dict[str, object] = {"format": fmt, "azure_format": f"{agreement} cost details", "role": role}
    if role == "actual":
        deviations["amortization"] = "no amortized export for this period: EffectiveCost is the actual cost"

    def diagnose(_: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
        return _diagnose(file.path, local_path, table, params, chosen, exc)

    return FilePlan(file, select_sql, params, diagnose, deviations)


def cost_subquery(raw: dict[str, str], reader: str, agreement: Agreement) -> tuple[str, dict[str, str]]:
    """The ``{cost}`` subquery of azure_cost_to_focus.sql for a file with columns ``raw`` (name → DuckDB
    type) read by ``reader`` (a table function or table name); returns it and target → file column."""
    lookup = {n.lstrip("\ufeff").strip().lower(): n for n in raw}
    exprs = []
    chosen: dict[str, str] = {}
    for target, (ea, mca) in COLUMNS.items():
        names = ea if agreement == "EA" else mca
        found = next((lookup[n.lower()] for n in names if n.lower() in lookup), None)
        if found is None:
            exprs.append(f"CAST(NULL AS VARCHAR) AS {target}")
            continue
        chosen[target] = found
        ident = quote_ident(found)
        if target == "tags" and raw[found].startswith(("MAP", "STRUCT")):
            exprs.append(f"CAST(to_json({ident}) AS VARCHAR) AS {target}")
        else:
            exprs.append(f"NULLIF(trim(CAST({ident} AS VARCHAR)), '') AS {target}")
    return f"SELECT {', '.join(exprs)} FROM {reader}", chosen


def _plan_focus(conn: duckdb.DuckDBPyConnection, file: SourceFile, local_path: str) -> FilePlan:
    """A FocusCost file through the FOCUS collector, with its errors naming the blob, not the temp file."""
    local = SourceFile(local_path, file.size, file.mtime_ns, file.sha256)
    try:
        plan = plan_focus_file(conn, local)
    except SpendscopeError as exc:
        raise _renamed(exc, local_path, file.path) from None

    def diagnose(c: duckdb.DuckDBPyConnection, exc: duckdb.Error) -> SpendscopeError:
        return _renamed(plan.diagnose(c, exc), local_path, file.path)

    return FilePlan(file, plan.select_sql, plan.params, diagnose, {**plan.deviations, "azure_format": "FOCUS"})


def _renamed(error: SpendscopeError, local_path: str, name: str) -> SpendscopeError:
    text = str(error)
    if error.source is not None and text.startswith(f"{error.source}: "):
        text = text[len(error.source) + 2 :]
    return type(error)(text.replace(local_path, name), source=name)


def _error_line(exc: BaseException, local_path: str, name: str) -> str:
    """One line from a reader error: DuckDB's first line, plus the CSV reason line when there is one."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = next((line for line in lines[1:] if line.startswith(_CSV_REASONS)), None)
    text = f"{lines[0]}: {reason}" if reason else lines[0]
    return text.replace(local_path, name)


_CSV_REASONS: Final = ("Expected Number of Columns", "Value with unterminated quote", "Invalid unicode")


def _diagnose(
    name: str,
    local_path: str,
    table: str,
    params: dict[str, object],
    chosen: dict[str, str],
    exc: duckdb.Error,
) -> SpendscopeError:
    """Name the column and a value that made the load fail; fall back to DuckDB's first line."""
    probe = duckdb.connect()
    reader_params = {k: params[k] for k in ("path", "csv_columns") if k in params}
    try:
        probe.execute("SET TimeZone = 'UTC'")
        for col in (*NUMERIC, *DATES):
            if col not in chosen:
                continue
            text = f"NULLIF(trim(CAST({quote_ident(chosen[col])} AS VARCHAR)), '')"
            if col in NUMERIC:
                bad_when = f"TRY_CAST({text} AS DECIMAL(38, 12)) IS NULL"
            else:
                bad_when = (
                    f"coalesce(try_strptime(split_part({text}, ' ', 1), '%m/%d/%Y'), "
                    f"TRY_CAST({text} AS TIMESTAMPTZ)) IS NULL"
                )
            try:
                bad = probe.execute(
                    f"SELECT {text} FROM {table} WHERE {text} IS NOT NULL AND {bad_when} LIMIT 1", reader_params
                ).fetchone()
            except duckdb.Error:
                break  # the file itself is unreadable: report DuckDB's message below
            if bad:
                what = "a number" if col in NUMERIC else "a date"
                return BadData(
                    f"column {chosen[col]}: value {str(bad[0])[:60]!r} is not {what}; nothing was loaded", source=name
                )
    finally:
        probe.close()
    return BadData(f"cannot read file: {_error_line(exc, local_path, name)}; nothing was loaded", source=name)
