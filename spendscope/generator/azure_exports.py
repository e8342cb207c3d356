"""The generated Azure bill as Cost Management writes it to Blob storage: EA actual and amortized cost
details (CSV) and a FOCUS export (Parquet), partitioned runs with manifest.json.

Reads the generator's Azure FOCUS Parquet (``<out>/focus/azure/YYYY-MM/part-*.parquet``) and writes,
under ``out_dir`` laid out like the container::

    <directory>/<name>-actual/<YYYYMMDD-YYYYMMDD>/<run id>/part_<n>_0001.csv          + manifest.json
    <directory>/<name>-amortized/<YYYYMMDD-YYYYMMDD>/<run id>/part_<n>_0001.csv       + manifest.json
    <directory>/<name>-focus/<YYYYMMDD-YYYYMMDD>/<run id>/part_<n>_0001.snappy.parquet + manifest.json

Sources followed (Microsoft Learn): "Tutorial: Create and manage Cost Management exports" (layout,
manifest fields), "Enterprise Agreement cost and usage details file schema" version 2024-08-01 (the
columns, in order; tags as JSON without the outer braces, which the FinOps toolkit's conversion
guide says to "wrap in { and } if needed"), and "Get small cost datasets on demand" for the two
datasets: amortized cost spreads the reservation purchase over the covered usage and shows the rest as
UnusedReservation ("Unused reservation costs are seen only when viewing amortized cost"). Dates are
written MM/DD/YYYY, as older Cost Management CSV files carry them (the collector reads ISO dates too).
FOCUS rows map back exactly: actual CostInBillingCurrency = BilledCost (unused rows omitted, covered
usage 0), amortized = EffectiveCost (commitment purchases omitted).

``restate="YYYY-MM"`` also writes a newer run of that period (submitted a day later) with one more,
late, charge: what a daily export does when Azure restates a month. Memory stays bounded: DuckDB
streams Parquet to the output files.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import duckdb

__all__ = ["LATE_CHARGE", "AzureExportsResult", "upload_tree", "write_azure_exports"]

LATE_CHARGE: Final = Decimal("12.34")
"""The charge a restated run adds (BilledCost = EffectiveCost, in the bill's currency)."""

# FOCUS ServiceName of the generated bill → (EA MeterCategory, ConsumedService).
SERVICES: Final[dict[str, tuple[str, str]]] = {
    "Azure Virtual Machines": ("Virtual Machines", "Microsoft.Compute"),
    "Azure Managed Disks": ("Storage", "Microsoft.Compute"),
    "Azure Blob Storage": ("Storage", "Microsoft.Storage"),
    "Azure SQL Database": ("SQL Database", "Microsoft.Sql"),
    "Azure Cache for Redis": ("Redis Cache", "Microsoft.Cache"),
    "Azure Kubernetes Service": ("Azure Kubernetes Service", "Microsoft.ContainerService"),
    "Azure Bandwidth": ("Bandwidth", "Microsoft.Network"),
    "Azure Load Balancer": ("Load Balancer", "Microsoft.Network"),
    "Azure Monitor": ("Log Analytics", "Microsoft.OperationalInsights"),
    "Azure Functions": ("Functions", "Microsoft.Web"),
    "Azure OpenAI": ("Azure OpenAI", "Microsoft.CognitiveServices"),
    "Azure Databricks": ("Azure Databricks", "Microsoft.Databricks"),
    "Azure Cosmos DB": ("Azure Cosmos DB", "Microsoft.DocumentDB"),
    "Azure AI Search": ("Azure Cognitive Search", "Microsoft.Search"),
    "Azure Event Hubs": ("Event Hubs", "Microsoft.EventHub"),
}

# EA cost details 2024-08-01, in the documented order, each as a SQL expression over a FOCUS row
# (`f`, joined to `svc`) and `cost` (the dataset's amount). Identifiers only; no value is spliced in.
_EA_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("InvoiceSectionName", "'Default'"),
    ("AccountName", "BillingAccountName"),
    ("AccountOwnerId", "''"),
    ("SubscriptionId", "SubAccountId"),
    ("SubscriptionName", "SubAccountName"),
    ("ResourceGroup", "coalesce(x_ResourceGroupName, '')"),
    ("ResourceLocation", "coalesce(RegionId, '')"),
    ("Date", "strftime(ChargePeriodStart, '%m/%d/%Y')"),
    ("ProductName", "regexp_replace(coalesce(ChargeDescription, ''), ' \\(covered by .*\\)$', '')"),
    ("MeterCategory", "CASE WHEN purchase THEN '' ELSE coalesce(svc.meter_category, ServiceName) END"),
    ("MeterSubCategory", "CASE WHEN purchase THEN '' ELSE coalesce(x_UsageType, '') END"),
    (
        "MeterId",
        "CASE WHEN SkuId IS NULL THEN '' ELSE CAST(md5(SkuId || '|' || coalesce(SkuMeter, ''))::UUID AS VARCHAR) END",
    ),
    ("MeterName", "coalesce(SkuMeter, '')"),
    ("MeterRegion", "coalesce(RegionName, '')"),
    ("UnitOfMeasure", "uom"),
    ("Quantity", "coalesce(ConsumedQuantity, CAST(PricingQuantity * block AS DECIMAL(38, 12)))"),
    ("EffectivePrice", "CASE WHEN PricingQuantity > 0 THEN CAST(cost / PricingQuantity AS DECIMAL(38, 12)) ELSE 0 END"),
    ("CostInBillingCurrency", "cost"),
    ("CostCenter", "''"),
    (
        "ConsumedService",
        "CASE WHEN NOT purchase THEN coalesce(svc.consumed_service, '') "
        "WHEN CommitmentDiscountType = 'Reservation' THEN 'Microsoft.Capacity' ELSE 'Microsoft.BillingBenefits' END",
    ),
    (
        "ResourceId",
        "CASE WHEN CommitmentDiscountId IS NOT NULL AND (purchase OR unused) THEN '' ELSE coalesce(ResourceId, '') END",
    ),
    ("Tags", "CASE WHEN Tags IS NULL OR Tags = '{}' THEN '' ELSE substr(Tags, 2, length(Tags) - 2) END"),
    ("OfferId", "'MS-AZR-0017P'"),
    ("AdditionalInfo", "coalesce(SkuPriceDetails, '')"),
    ("ServiceInfo1", "''"),
    ("ServiceInfo2", "''"),
    ("ResourceName", "CASE WHEN purchase OR unused THEN '' ELSE coalesce(ResourceName, '') END"),
    (
        "ReservationId",
        "CASE WHEN CommitmentDiscountType = 'Reservation' "
        "THEN regexp_extract(CommitmentDiscountId, '([^/]+)$', 1) ELSE '' END",
    ),
    ("ReservationName", "CASE WHEN CommitmentDiscountType = 'Reservation' THEN CommitmentDiscountName ELSE '' END"),
    ("UnitPrice", "coalesce(ContractedUnitPrice, 0)"),
    ("ProductOrderId", "''"),
    ("ProductOrderName", "''"),
    ("Term", "CASE WHEN purchase THEN '12' ELSE '' END"),
    ("PublisherType", "'Azure'"),
    ("PublisherName", "PublisherName"),
    (
        "ChargeType",
        "CASE"
        " WHEN unused THEN CASE"
        " WHEN CommitmentDiscountType = 'Reservation' THEN 'UnusedReservation' ELSE 'UnusedSavingsPlan' END"
        " WHEN ChargeCategory = 'Adjustment' THEN 'RoundingAdjustment' ELSE ChargeCategory END",
    ),
    (
        "Frequency",
        "CASE ChargeFrequency WHEN 'One-Time' THEN 'OneTime' WHEN 'Recurring' THEN 'Recurring' ELSE 'UsageBased' END",
    ),
    (
        "PricingModel",
        "CASE"
        " WHEN CommitmentDiscountType = 'Reservation' THEN 'Reservation'"
        " WHEN CommitmentDiscountType IS NOT NULL THEN 'SavingsPlan'"
        " WHEN PricingCategory = 'Dynamic' THEN 'Spot' ELSE 'OnDemand' END",
    ),
    ("AvailabilityZone", "''"),
    ("BillingAccountId", "BillingAccountId"),
    ("BillingAccountName", "BillingAccountName"),
    ("BillingCurrencyCode", "BillingCurrency"),
    ("BillingPeriodStartDate", "strftime(BillingPeriodStart, '%m/%d/%Y')"),
    ("BillingPeriodEndDate", "strftime(BillingPeriodEnd - INTERVAL 1 DAY, '%m/%d/%Y')"),
    ("BillingProfileId", "BillingAccountId"),
    ("BillingProfileName", "BillingAccountName"),
    ("InvoiceSectionId", "''"),
    ("IsAzureCreditEligible", "'True'"),
    ("PartNumber", "''"),
    ("PayGPrice", "coalesce(ListUnitPrice, 0)"),
    ("PlanName", "''"),
    ("ServiceFamily", "ServiceCategory"),
    ("CostAllocationRuleName", "''"),
    ("benefitId", "coalesce(CommitmentDiscountId, '')"),
    ("benefitName", "coalesce(CommitmentDiscountName, '')"),
    ("AccountId", "''"),
    ("ResourceLocationNormalized", "coalesce(RegionName, '')"),
)
# FOCUS PricingUnit → EA UnitOfMeasure ("10000 Requests" → "10K Requests") and the block size.
_UOM = """CASE
    WHEN PricingUnit = 'Hours' THEN '1 Hour'
    WHEN PricingUnit = 'GB-Months' THEN '1 GB/Month'
    WHEN PricingUnit = 'GiB-Months' THEN '1 GiB/Month'
    WHEN regexp_matches(PricingUnit, '^1000000 ') THEN '1M ' || regexp_extract(PricingUnit, '^\\d+ (.*)$', 1)
    WHEN regexp_matches(PricingUnit, '^\\d+000 ')
        THEN CAST(CAST(regexp_extract(PricingUnit, '^(\\d+) ', 1) AS BIGINT) // 1000 AS VARCHAR) || 'K '
             || regexp_extract(PricingUnit, '^\\d+ (.*)$', 1)
    WHEN PricingUnit IS NULL THEN ''
    ELSE '1 ' || PricingUnit
END"""
_BLOCK = "coalesce(TRY_CAST(regexp_extract(PricingUnit, '^(\\d+) ', 1) AS DECIMAL(38, 12)), 1)"


@dataclass(frozen=True)
class AzureExportsResult:
    root: Path
    """out_dir: the container's layout; upload it as is (``upload_tree``)."""
    directory: str
    exports: dict[str, str]
    """Dataset (ActualCost, AmortizedCost, FocusCost) → export name."""
    periods: list[str]
    manifests: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    """Data files (all runs)."""
    restated: str | None = None


def _months(focus_dir: Path) -> dict[str, list[Path]]:
    base = focus_dir / "focus" / "azure" if (focus_dir / "focus" / "azure").is_dir() else focus_dir
    out = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        parts = sorted(folder.glob("part-*.parquet"))
        if parts:
            out[folder.name] = parts
    if not out:
        raise FileNotFoundError(f"no Azure FOCUS Parquet (YYYY-MM/part-*.parquet) under {base}")
    return out


def write_azure_exports(
    focus_dir: Path,
    out_dir: Path,
    *,
    export_name: str = "acme",
    restate: str | None = None,
    directory: str | None = None,
    part_bytes: int = 64 << 20,
) -> AzureExportsResult:
    """Write every generated Azure month as the three exports (see module doc). ``directory``
    defaults to ``billingAccounts/<enrollment>``, as the FinOps toolkit advises one folder per scope;
    ``part_bytes`` bounds each part file (Cost Management partitions large runs the same way)."""
    months = _months(Path(focus_dir))
    if restate is not None and restate not in months:
        raise ValueError(f"restate={restate!r}: no generated month {restate} (have {', '.join(months)})")
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        svc = [(name, cat, consumed) for name, (cat, consumed) in SERVICES.items()]
        conn.execute("CREATE TEMP TABLE svc (service_name VARCHAR, meter_category VARCHAR, consumed_service VARCHAR)")
        conn.executemany("INSERT INTO svc VALUES (?, ?, ?)", svc)
        first = [str(p) for p in next(iter(months.values()))]
        row = conn.execute("SELECT any_value(BillingAccountId) FROM read_parquet($f)", {"f": first}).fetchone()
        directory = directory or f"billingAccounts/{row[0] if row else 'unknown'}"
        names = {d: f"{export_name}-{suffix}" for d, suffix in _SUFFIX.items()}
        result = AzureExportsResult(Path(out_dir), directory, names, list(months), restated=restate)
        for period, parts in months.items():
            runs = [(0, False)] + ([(1, True)] if period == restate else [])
            for n, late in runs:
                for dataset, name in names.items():
                    _write_run(conn, result, dataset, name, period, [str(p) for p in parts], n, late, part_bytes)
    finally:
        conn.close()
    return result


_SUFFIX: Final = {"ActualCost": "actual", "AmortizedCost": "amortized", "FocusCost": "focus"}


def _write_run(
    conn: duckdb.DuckDBPyConnection,
    result: AzureExportsResult,
    dataset: str,
    export: str,
    period: str,
    parts: list[str],
    n: int,
    late: bool,
    part_bytes: int,
) -> None:
    start = datetime.strptime(period, "%Y-%m").replace(tzinfo=UTC)
    end = (start + timedelta(days=32)).replace(day=1)
    date_range = f"{start:%Y%m%d}-{end - timedelta(days=1):%Y%m%d}"
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"spendscope/{result.directory}/{export}/{period}/{n}"))
    submitted = end + timedelta(days=n, hours=5, minutes=7)
    folder_key = f"{result.directory}/{export}/{date_range}/{run_id}"
    folder = result.root / folder_key
    tmp = folder / ".parts"
    focus = "(SELECT * FROM read_parquet($parts))"
    if late:  # one more charge, on the month's last day: a late-arriving usage line
        focus = (
            "(SELECT * FROM read_parquet($parts) UNION ALL BY NAME SELECT * REPLACE ("
            "$late AS BilledCost, $late AS EffectiveCost, $late AS ListCost, $late AS ContractedCost, "
            "$late AS PricingCurrencyEffectiveCost, $late_start AS ChargePeriodStart, $late_end AS ChargePeriodEnd, "
            "'Late charge restated by Azure' AS ChargeDescription) FROM (SELECT * FROM read_parquet($parts) "
            "WHERE ChargeCategory = 'Usage' AND CommitmentDiscountId IS NULL ORDER BY ChargePeriodStart, ResourceId "
            "LIMIT 1))"
        )
    params: dict[str, Any] = {"parts": parts}
    if late:
        params |= {"late": LATE_CHARGE, "late_start": end - timedelta(days=1), "late_end": end}
    if dataset == "FocusCost":
        query, fmt, suffix = f"SELECT * FROM {focus} f", "FORMAT PARQUET, COMPRESSION SNAPPY", "snappy.parquet"
    else:
        cost, keep = ("BilledCost", "NOT unused") if dataset == "ActualCost" else ("EffectiveCost", "NOT purchase")
        select = ", ".join(f"NULLIF(CAST({expr} AS VARCHAR), '') AS {name}" for name, expr in _EA_COLUMNS)
        query = (
            f"SELECT {select} FROM (SELECT f.*, {cost} AS cost, {_UOM} AS uom, {_BLOCK} AS block, "
            "ChargeCategory = 'Purchase' AND CommitmentDiscountId IS NOT NULL AS purchase, "
            f"CommitmentDiscountStatus IS NOT DISTINCT FROM 'Unused' AS unused "
            f"FROM {focus} f) f LEFT JOIN svc ON svc.service_name = f.ServiceName WHERE {keep} "
            f"ORDER BY ChargePeriodStart, SubscriptionId, ResourceId"
        )
        fmt, suffix = "FORMAT CSV, HEADER", "csv"
    tmp.mkdir(parents=True, exist_ok=True)
    target = str(tmp).replace("'", "''")  # COPY takes no parameter for its target
    conn.execute(f"COPY ({query}) TO '{target}' ({fmt}, FILE_SIZE_BYTES {int(part_bytes)}, OVERWRITE)", params)
    written = sorted(tmp.iterdir(), key=lambda p: int(p.stem.split("_")[-1].split(".")[0]))
    blobs: list[dict[str, Any]] = []
    for i, src in enumerate(written):
        dest = folder / f"part_{i}_0001.{suffix}"
        src.replace(dest)
        reader = "read_parquet" if dataset == "FocusCost" else "read_csv"
        count = conn.execute(f"SELECT count(*) FROM {reader}($p)", {"p": str(dest)}).fetchone()
        blobs.append({"blobName": f"{folder_key}/{dest.name}", "byteCount": dest.stat().st_size,
                      "dataRowCount": int(count[0]) if count else 0})  # fmt: skip
        result.files.append(dest)
    tmp.rmdir()
    manifest = {
        "manifestVersion": "2024-04-01",
        "byteCount": sum(int(b["byteCount"]) for b in blobs),
        "blobCount": len(blobs),
        "dataRowCount": sum(int(b["dataRowCount"]) for b in blobs),
        "exportConfig": {
            "exportName": export,
            "resourceId": f"/providers/Microsoft.Billing/{result.directory}"
            f"/providers/Microsoft.CostManagement/exports/{export}",
            "dataVersion": "1.2-preview" if dataset == "FocusCost" else "2024-08-01",
            "apiVersion": "2025-03-01",
            "type": dataset,
            "timeFrame": "MonthToDate",
            "granularity": "Daily",
        },
        "deliveryConfig": {
            "partitionData": True,
            "dataOverwriteBehavior": "CreateNewReport",
            "fileFormat": "Parquet" if dataset == "FocusCost" else "Csv",
            "compressionMode": "Snappy" if dataset == "FocusCost" else "None",
            "rootFolderPath": result.directory,
        },
        "runInfo": {
            "executionType": "Scheduled",
            "submittedTime": submitted.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "runId": run_id,
            "startDate": f"{start:%Y-%m-%dT%H:%M:%S}",
            "endDate": f"{end - timedelta(days=1):%Y-%m-%dT%H:%M:%S}Z",
        },
        "blobs": blobs,
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    result.manifests.append(path)


def upload_tree(local_dir: Path, container_client: Any) -> list[str]:
    """Upload every file under ``local_dir`` to the container, named by its path relative to it
    (streamed from disk, overwriting). Returns the blob names."""
    root = Path(local_dir)
    names = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        with path.open("rb") as fh:
            container_client.upload_blob(name, fh, overwrite=True, length=path.stat().st_size)
        names.append(name)
    return names
