"""AWS's own billing files: CUR 2.0 / legacy CUR columns, S3 keys, manifests, and the FOCUS → CUR SQL.

Sources followed (see ``cur.py`` for the delivery layout):

- "Cost and Usage Report (CUR) 2.0" table dictionary: snake_case names; costs ``double``, rates
  ``string``, dates ``timestamp``; ``product``, ``resource_tags``, ``cost_category`` are
  ``map<string,string>``, ``discount`` is ``map<string,double>``; reservation / savings plan start and
  end times are ``string``. User tags are ``resource_tags`` keys ``user_<key>`` (legacy CUR:
  ``resourceTags/user:<key>`` columns); other product attributes are keys of ``product``.
- Legacy CUR data dictionary / manifests: ``category/Name`` headers and manifest column types
  (``String``, ``OptionalString``, ``DateTime``, ``BigDecimal``, ``OptionalBigDecimal``, ``Interval``).
- Line item semantics: AWS "Understanding your reservation line items" (DiscountedUsage costs 0, the
  RIFee bills the hours) and the FinOps Foundation's CUR→FOCUS conversion (EffectiveCost CASE).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple


class Col(NamedTuple):
    name: str
    """CUR 2.0 column."""
    type: str
    """CUR 2.0 type, as the table dictionary and the manifest name it."""
    legacy: str | None
    """Legacy CSV header (``category/Name``); None for CUR 2.0-only columns."""
    legacy_type: str | None


_TABLE = """
bill_bill_type                    string   bill/BillType                      String
bill_billing_entity               string   bill/BillingEntity                 String
bill_billing_period_end_date      timestamp bill/BillingPeriodEndDate         DateTime
bill_billing_period_start_date    timestamp bill/BillingPeriodStartDate       DateTime
bill_invoice_id                   string   bill/InvoiceId                     String
bill_invoicing_entity             string   bill/InvoicingEntity               String
bill_payer_account_id             string   bill/PayerAccountId                String
bill_payer_account_name           string   -                                  -
cost_category                     map<string,string> -                        -
discount                          map<string,double> -                        -
identity_line_item_id             string   identity/LineItemId                String
identity_time_interval            string   identity/TimeInterval              Interval
line_item_availability_zone       string   lineItem/AvailabilityZone          OptionalString
line_item_blended_cost            double   lineItem/BlendedCost               BigDecimal
line_item_blended_rate            string   lineItem/BlendedRate               OptionalBigDecimal
line_item_currency_code           string   lineItem/CurrencyCode              String
line_item_legal_entity            string   lineItem/LegalEntity               OptionalString
line_item_line_item_description   string   lineItem/LineItemDescription       String
line_item_line_item_type          string   lineItem/LineItemType              String
line_item_net_unblended_cost      double   -                                  -
line_item_net_unblended_rate      string   -                                  -
line_item_normalization_factor    double   lineItem/NormalizationFactor       OptionalBigDecimal
line_item_normalized_usage_amount double   lineItem/NormalizedUsageAmount     OptionalBigDecimal
line_item_operation               string   lineItem/Operation                 OptionalString
line_item_product_code            string   lineItem/ProductCode               String
line_item_resource_id             string   lineItem/ResourceId                OptionalString
line_item_tax_type                string   lineItem/TaxType                   OptionalString
line_item_unblended_cost          double   lineItem/UnblendedCost             BigDecimal
line_item_unblended_rate          string   lineItem/UnblendedRate             OptionalBigDecimal
line_item_usage_account_id        string   lineItem/UsageAccountId            String
line_item_usage_account_name      string   -                                  -
line_item_usage_amount            double   lineItem/UsageAmount               OptionalBigDecimal
line_item_usage_end_date          timestamp lineItem/UsageEndDate             DateTime
line_item_usage_start_date        timestamp lineItem/UsageStartDate           DateTime
line_item_usage_type              string   lineItem/UsageType                 OptionalString
pricing_currency                  string   pricing/currency                   OptionalString
pricing_lease_contract_length     string   pricing/LeaseContractLength        OptionalString
pricing_offering_class            string   pricing/OfferingClass              OptionalString
pricing_public_on_demand_cost     double   pricing/publicOnDemandCost         OptionalBigDecimal
pricing_public_on_demand_rate     string   pricing/publicOnDemandRate         OptionalBigDecimal
pricing_purchase_option           string   pricing/PurchaseOption             OptionalString
pricing_term                      string   pricing/term                       OptionalString
pricing_unit                      string   pricing/unit                       OptionalString
product                           map<string,string> -                        -
product_instance_type             string   product/instanceType               OptionalString
product_location                  string   product/location                   OptionalString
product_operation                 string   product/operation                  OptionalString
product_product_family            string   product/productFamily              OptionalString
product_region_code               string   product/regionCode                 OptionalString
product_servicecode               string   product/servicecode                OptionalString
product_sku                       string   product/sku                        OptionalString
product_usagetype                 string   product/usagetype                  OptionalString
reservation_amortized_upfront_cost_for_usage  double reservation/AmortizedUpfrontCostForUsage  OptionalBigDecimal
reservation_amortized_upfront_fee_for_billing_period double reservation/AmortizedUpfrontFeeForBillingPeriod OptionalBigDecimal
reservation_effective_cost        double   reservation/EffectiveCost          OptionalBigDecimal
reservation_end_time              string   reservation/EndTime                OptionalString
reservation_recurring_fee_for_usage double reservation/RecurringFeeForUsage   OptionalBigDecimal
reservation_reservation_a_r_n     string   reservation/ReservationARN         OptionalString
reservation_start_time            string   reservation/StartTime              OptionalString
reservation_unused_amortized_upfront_fee_for_billing_period double reservation/UnusedAmortizedUpfrontFeeForBillingPeriod OptionalBigDecimal
reservation_unused_quantity       double   reservation/UnusedQuantity         OptionalBigDecimal
reservation_unused_recurring_fee  double   reservation/UnusedRecurringFee     OptionalBigDecimal
resource_tags                     map<string,string> -                        -
savings_plan_amortized_upfront_commitment_for_billing_period double savingsPlan/AmortizedUpfrontCommitmentForBillingPeriod OptionalBigDecimal
savings_plan_end_time             string   savingsPlan/EndTime                OptionalString
savings_plan_offering_type        string   savingsPlan/OfferingType           OptionalString
savings_plan_payment_option       string   savingsPlan/PaymentOption          OptionalString
savings_plan_purchase_term        string   savingsPlan/PurchaseTerm           OptionalString
savings_plan_recurring_commitment_for_billing_period double savingsPlan/RecurringCommitmentForBillingPeriod OptionalBigDecimal
savings_plan_region               string   savingsPlan/Region                 OptionalString
savings_plan_savings_plan_a_r_n   string   savingsPlan/SavingsPlanARN         OptionalString
savings_plan_savings_plan_effective_cost double savingsPlan/SavingsPlanEffectiveCost OptionalBigDecimal
savings_plan_savings_plan_rate    double   savingsPlan/SavingsPlanRate        OptionalBigDecimal
savings_plan_start_time           string   savingsPlan/StartTime              OptionalString
savings_plan_total_commitment_to_date double savingsPlan/TotalCommitmentToDate OptionalBigDecimal
savings_plan_used_commitment      double   savingsPlan/UsedCommitment         OptionalBigDecimal
"""  # noqa: E501
COLUMNS: Final = tuple(
    Col(n, t, None if g == "-" else g, None if k == "-" else k)
    for n, t, g, k in (line.split() for line in _TABLE.strip().splitlines())
)
PRODUCT_KEYS: Final = (
    ("product_name", "product/ProductName"),
    ("region", "product/region"),
    ("servicecode", "product/servicecode"),
    ("servicename", "product/servicename"),
    ("vcpu", "product/vcpu"),
    ("memory", "product/memory"),
    ("operating_system", "product/operatingSystem"),
    ("storage_class", "product/storageClass"),
)
"""Keys of CUR 2.0's ``product`` map; legacy CUR has one ``product/…`` column each."""
LEGACY_ORDER: Final = ("identity", "bill", "lineItem", "product", "pricing", "reservation", "savingsPlan")
SERVICES: Final = {  # FOCUS ServiceName → (lineItem/ProductCode, product/ProductName)
    "Amazon EC2": ("AmazonEC2", "Amazon Elastic Compute Cloud"),
    "Amazon ECS": ("AmazonECS", "Amazon Elastic Container Service"),
    "Amazon EKS": ("AmazonEKS", "Amazon Elastic Container Service for Kubernetes"),
    "AWS Lambda": ("AWSLambda", "AWS Lambda"),
    "Amazon S3": ("AmazonS3", "Amazon Simple Storage Service"),
    "Amazon RDS": ("AmazonRDS", "Amazon Relational Database Service"),
    "Amazon DynamoDB": ("AmazonDynamoDB", "Amazon DynamoDB"),
    "Amazon ElastiCache": ("AmazonElastiCache", "Amazon ElastiCache"),
    "Amazon OpenSearch Service": ("AmazonES", "Amazon OpenSearch Service"),
    "Amazon CloudFront": ("AmazonCloudFront", "Amazon CloudFront"),
    "Elastic Load Balancing": ("AWSELB", "Elastic Load Balancing"),
    "Amazon VPC": ("AmazonVPC", "Amazon Virtual Private Cloud"),
    "AWS Data Transfer": ("AWSDataTransfer", "AWS Data Transfer"),
    "Amazon CloudWatch": ("AmazonCloudWatch", "AmazonCloudWatch"),
    "AWS Support (Business)": ("AWSSupportBusiness", "AWS Support (Business)"),
    "Amazon SageMaker": ("AmazonSageMaker", "Amazon SageMaker"),
    "Amazon Bedrock": ("AmazonBedrock", "Amazon Bedrock"),
    "AWS Glue": ("AWSGlue", "AWS Glue"),
    "Amazon Redshift": ("AmazonRedshift", "Amazon Redshift"),
    "Amazon Kinesis": ("AmazonKinesis", "Amazon Kinesis"),
}
OPERATIONS: Final = (  # usage type without its region prefix → lineItem/Operation (first match)
    ("^(BoxUsage|HeavyUsage):", "RunInstances"),
    ("^EBS:VolumeUsage", "CreateVolume-Gp3"),
    ("^EBS:SnapshotUsage", "CreateSnapshot"),
    ("^TimedStorage-ByteHrs", "StandardStorage"),
    ("^Requests-Tier1", "PutObject"),
    ("^Requests-Tier2", "GetObject"),
    ("^(InstanceUsage:|RDS:GP3-Storage)", "CreateDBInstance:0014"),
    ("^NodeUsage:", "CreateCacheCluster:0002"),
    ("^(Write|Read)RequestUnits", "PayPerRequestThroughput"),
    ("^(Request|Lambda-GB-Second)$", "Invoke"),
    ("^Fargate-", "FargateTask"),
    ("^(LoadBalancerUsage|LCUUsage)", "LoadBalancing:Application"),
    ("^NatGateway-", "NatGateway"),
    ("DataTransfer-Out-Bytes$", "GetObject"),
    ("^ESInstance:", "ESDomain"),
    ("^DataProcessing-Bytes", "PutLogEvents"),
)
_SIZE_RX = (
    r"^(BoxUsage|HeavyUsage|InstanceUsage|NodeUsage|ESInstance):[a-z0-9.-]*\.([0-9]*)"
    r"(nano|micro|small|medium|large|xlarge)$"
)


# ------------------------------------------------------------------ S3 keys, ids, manifests


def range_folder(start: datetime, end: datetime) -> str:
    """Legacy CUR date-range folder, first of the month to first of the next: ``20261001-20261101``."""
    return f"{start:%Y%m%d}-{end:%Y%m%d}"


def cur2_data_key(prefix: str, export: str, period: str, n: int) -> str:
    return f"{prefix}/{export}/data/BILLING_PERIOD={period}/{export}-{n:05d}.snappy.parquet"


def cur2_manifest_key(prefix: str, export: str, period: str) -> str:
    return f"{prefix}/{export}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"


def legacy_data_key(prefix: str, report: str, folder: str, assembly: str, n: int) -> str:
    return f"{prefix}/{report}/{folder}/{assembly}/{report}-{n}.csv.gz"


def legacy_manifest_keys(prefix: str, report: str, folder: str, assembly: str) -> tuple[str, str]:
    """(the assembly's own manifest, the period's current manifest)."""
    return (
        f"{prefix}/{report}/{folder}/{assembly}/{report}-Manifest.json",
        f"{prefix}/{report}/{folder}/{report}-Manifest.json",
    )


def stable_uuid(*parts: object) -> str:
    """A GUID-shaped id derived from ``parts``: same inputs, same id."""
    h = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def line_item_ids(period: str, first: int, n: int) -> list[str]:
    """identity_line_item_id of rows ``first … first+n-1`` of a period: 52 lower-case base32 characters
    (35-byte digests encode to 56 characters each, without padding, so one b32encode serves them all)."""
    digests = b"".join(
        hashlib.blake2b(f"{period}:{i}".encode(), digest_size=35).digest() for i in range(first, first + n)
    )
    text = base64.b32encode(digests).decode().lower()
    return [text[k : k + 52] for k in range(0, 56 * n, 56)]


def cur2_manifest(
    *,
    export: str,
    payer: str,
    bucket: str,
    prefix: str,
    execution_id: str,
    start: datetime,
    end: datetime,
    data_keys: list[str],
) -> dict[str, Any]:
    """A Data Exports ``Manifest.json``: columns with types, data files (keys relative to the bucket),
    billing period, export ARN and name, and the delivery's executionId."""
    iso = "%Y-%m-%dT%H:%M:%S.000Z"
    return {
        "executionId": execution_id,
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{payer}:export/{export}-{stable_uuid('export', export)}",
        "exportName": export,
        "bucket": bucket,
        "prefix": prefix,
        "billingPeriod": {"start": start.astimezone(UTC).strftime(iso), "end": end.astimezone(UTC).strftime(iso)},
        "queryStatement": f"SELECT {', '.join(c.name for c in COLUMNS)} FROM COST_AND_USAGE_REPORT",
        "tableConfigurations": {
            "COST_AND_USAGE_REPORT": {
                "TIME_GRANULARITY": "HOURLY",
                "INCLUDE_RESOURCES": "TRUE",
                "INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY": "FALSE",
                "INCLUDE_SPLIT_COST_ALLOCATION_DATA": "FALSE",
            }
        },
        "columns": [{"name": c.name, "type": c.type} for c in COLUMNS],
        "dataFiles": data_keys,
        "additionalOutputFiles": [],
    }


def legacy_columns(tag_keys: list[str]) -> list[tuple[str, str]]:
    """(header, type) of a legacy CSV in AWS's category order, then ``resourceTags/user:<key>`` per tag key."""
    cols = [(c.legacy, c.legacy_type) for c in COLUMNS if c.legacy and c.legacy_type]
    cols += [(legacy, "OptionalString") for _, legacy in PRODUCT_KEYS]
    cols.sort(key=lambda c: LEGACY_ORDER.index(c[0].split("/", 1)[0]))  # stable within a category
    return cols + [(f"resourceTags/user:{k}", "OptionalString") for k in tag_keys]


def legacy_manifest(
    *, report: str, payer: str, bucket: str, prefix: str, assembly_id: str, start: datetime, end: datetime,
    columns: list[tuple[str, str]], data_keys: list[str],
) -> dict[str, Any]:  # fmt: skip
    """A legacy CUR ``<report>-Manifest.json`` (the assembly's, and the period's current one)."""
    return {
        "assemblyId": assembly_id,
        "account": payer,
        "columns": [{"category": h.split("/", 1)[0], "name": h.split("/", 1)[1], "type": t} for h, t in columns],
        "charset": "UTF-8",
        "compression": "GZIP",
        "contentType": "text/csv",
        "reportId": hashlib.sha256(f"{bucket}:{prefix}:{report}".encode()).hexdigest(),
        "reportName": report,
        "billingPeriod": {"start": f"{start:%Y%m%dT%H%M%S}.000Z", "end": f"{end:%Y%m%dT%H%M%S}.000Z"},
        "bucket": bucket,
        "reportKeys": data_keys,
        "additionalArtifactKeys": [],
    }


# ------------------------------------------------------------------ FOCUS rows → CUR line items


def lit(value: object) -> str:
    """A SQL literal (Decimal as DECIMAL(38, 12))."""
    if value is None:
        return "NULL"
    if isinstance(value, Decimal):
        return f"CAST('{value}' AS DECIMAL(38, 12))"
    return "'" + str(value).replace("'", "''") + "'"


def _case(expr: str, pairs: dict[str, str], default: str = "NULL") -> str:
    whens = " ".join(f"WHEN {lit(k)} THEN {v}" for k, v in pairs.items())
    return f"CASE {expr} {whens} ELSE {default} END" if pairs else default


_SELECT = """
WITH src AS (SELECT *, CASE WHEN CommitmentDiscountStatus = 'Unused' THEN NULL
        WHEN ChargeCategory = 'Purchase' AND CommitmentDiscountType = 'Reserved Instance' THEN 'RIFee'
        WHEN ChargeCategory = 'Purchase' AND CommitmentDiscountType = 'Savings Plan' THEN 'SavingsPlanRecurringFee'
        WHEN CommitmentDiscountStatus = 'Used' AND CommitmentDiscountType = 'Reserved Instance' THEN 'DiscountedUsage'
        WHEN CommitmentDiscountStatus = 'Used' AND CommitmentDiscountType = 'Savings Plan'
            THEN 'SavingsPlanCoveredUsage'
        WHEN ChargeCategory IN ('Tax', 'Credit') THEN ChargeCategory WHEN ChargeCategory = 'Adjustment' THEN 'Refund'
        WHEN ChargeCategory = 'Purchase' OR ServiceName LIKE 'AWS Support%' THEN 'Fee' ELSE 'Usage' END AS _kind
    FROM {source}),
x AS (SELECT *, unnest(CASE WHEN _kind = 'SavingsPlanCoveredUsage' THEN [false, true] ELSE [false] END) AS _neg
    FROM src WHERE _kind IS NOT NULL),
y AS (SELECT *, CASE WHEN _neg THEN 'SavingsPlanNegation' ELSE _kind END AS _t,
        regexp_replace(coalesce(x_UsageType, ''), '^[A-Z]{{2,4}}[0-9]?-', '') AS _ut, {code} AS _code, {pname} AS _pname
    FROM x),
z AS (SELECT *, regexp_extract(_ut, {size_rx}, ['f', 'n', 's']) AS _sz,
        _t IN ('DiscountedUsage', 'RIFee') AS _ri,
        _t IN ('SavingsPlanCoveredUsage', 'SavingsPlanNegation', 'SavingsPlanRecurringFee') AS _sp,
        _t IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage') AS _use,
        CASE _t WHEN 'DiscountedUsage' THEN 0 WHEN 'SavingsPlanCoveredUsage' THEN ContractedCost
            WHEN 'SavingsPlanNegation' THEN -ContractedCost ELSE BilledCost END AS _unblended,
        CASE _t WHEN 'DiscountedUsage' THEN '0.0' WHEN 'SavingsPlanNegation' THEN CAST(-ContractedUnitPrice AS VARCHAR)
            ELSE CAST(ContractedUnitPrice AS VARCHAR) END AS _rate,
        CASE WHEN _t NOT IN ('Tax', 'Credit', 'Refund', 'Fee') THEN {operation} END AS _op,
        {c_start} AS _c_start, {c_end} AS _c_end, {c_term} AS _c_term, {c_option} AS _c_option,
        {c_unused} AS _c_unused, {c_unused_qty} AS _c_unused_qty, {c_offering} AS _c_offering,
        _pname AS _p_product_name, RegionId AS _p_region, _code AS _p_servicecode, _pname AS _p_servicename,
        json_extract_string(SkuPriceDetails, '$.CoreCount') AS _p_vcpu,
        json_extract_string(SkuPriceDetails, '$.MemorySize') || ' GiB' AS _p_memory,
        json_extract_string(SkuPriceDetails, '$.OperatingSystem') AS _p_operating_system,
        json_extract_string(SkuPriceDetails, '$.StorageClass') AS _p_storage_class
    FROM y),
f AS (SELECT *, CASE _sz.s WHEN 'nano' THEN 0.25 WHEN 'micro' THEN 0.5 WHEN 'small' THEN 1 WHEN 'medium' THEN 2
        WHEN 'large' THEN 4 WHEN 'xlarge' THEN 8 * coalesce(TRY_CAST(NULLIF(_sz.n, '') AS INTEGER), 1) END AS _factor
    FROM z),
cur AS (SELECT
    'Anniversary' AS bill_bill_type, 'AWS' AS bill_billing_entity,
    BillingPeriodEnd AS bill_billing_period_end_date, BillingPeriodStart AS bill_billing_period_start_date,
    InvoiceId AS bill_invoice_id, CASE InvoiceIssuerName WHEN 'AWS' THEN 'Amazon Web Services, Inc.'
        ELSE InvoiceIssuerName END AS bill_invoicing_entity,
    BillingAccountId AS bill_payer_account_id, BillingAccountName AS bill_payer_account_name,
    MAP {{}}::MAP(VARCHAR, VARCHAR) AS cost_category, MAP {{}}::MAP(VARCHAR, DOUBLE) AS discount,
    strftime(ChargePeriodStart, '%Y-%m-%dT%H:%M:%SZ') || '/' || strftime(ChargePeriodEnd, '%Y-%m-%dT%H:%M:%SZ')
        AS identity_time_interval,
    AvailabilityZone AS line_item_availability_zone,
    _unblended AS line_item_blended_cost, _rate AS line_item_blended_rate,
    BillingCurrency AS line_item_currency_code, 'Amazon Web Services, Inc.' AS line_item_legal_entity,
    CASE WHEN _neg THEN 'SavingsPlanNegation used by AccountId : ' || SubAccountId || ' and UsageSku : '
        || coalesce(SkuId, '') ELSE ChargeDescription END AS line_item_line_item_description,
    _t AS line_item_line_item_type,
    CAST(NULL AS DECIMAL(38, 12)) AS line_item_net_unblended_cost,
    CAST(NULL AS VARCHAR) AS line_item_net_unblended_rate,
    _factor AS line_item_normalization_factor, PricingQuantity * _factor AS line_item_normalized_usage_amount,
    _op AS line_item_operation, _code AS line_item_product_code,
    CASE WHEN _t IN ('RIFee', 'SavingsPlanRecurringFee') THEN NULL ELSE ResourceId END AS line_item_resource_id,
    CASE WHEN _t = 'Tax' THEN 'Sales Tax' END AS line_item_tax_type,
    _unblended AS line_item_unblended_cost, _rate AS line_item_unblended_rate,
    SubAccountId AS line_item_usage_account_id, SubAccountName AS line_item_usage_account_name,
    PricingQuantity AS line_item_usage_amount,
    ChargePeriodEnd AS line_item_usage_end_date, ChargePeriodStart AS line_item_usage_start_date,
    x_UsageType AS line_item_usage_type,
    PricingCurrency AS pricing_currency,
    CASE WHEN _ri THEN _c_term END AS pricing_lease_contract_length,
    CASE WHEN _ri THEN 'standard' END AS pricing_offering_class,
    CASE WHEN _use THEN ListCost ELSE 0 END AS pricing_public_on_demand_cost,
    CASE WHEN _use THEN CAST(ListUnitPrice AS VARCHAR) END AS pricing_public_on_demand_rate,
    CASE WHEN _ri THEN _c_option END AS pricing_purchase_option,
    CASE WHEN _ri THEN 'Reserved' WHEN _t IN ('Usage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation')
        THEN 'OnDemand' END AS pricing_term,
    CASE PricingUnit WHEN 'Hours' THEN 'Hrs' WHEN 'GB-Months' THEN 'GB-Mo' ELSE PricingUnit END AS pricing_unit,
    map_from_entries(list_filter([{product_entries}], e -> e.value IS NOT NULL)) AS product,
    json_extract_string(SkuPriceDetails, '$.InstanceType') AS product_instance_type,
    RegionName AS product_location, _op AS product_operation,
    CASE WHEN _t IN ('Tax', 'Credit', 'Refund') THEN NULL WHEN _sz.s <> '' THEN 'Compute Instance'
        WHEN PricingUnit = 'GB-Months' THEN 'Storage' WHEN ConsumedUnit = 'Requests' THEN 'API Request'
        WHEN _ut LIKE '%DataTransfer%' THEN 'Data Transfer' ELSE ServiceSubcategory END AS product_product_family,
    RegionId AS product_region_code, _code AS product_servicecode, SkuId AS product_sku,
    x_UsageType AS product_usagetype,
    CASE WHEN _t = 'DiscountedUsage' THEN 0 END AS reservation_amortized_upfront_cost_for_usage,
    CASE WHEN _t = 'RIFee' THEN 0 END AS reservation_amortized_upfront_fee_for_billing_period,
    CASE WHEN _t = 'DiscountedUsage' THEN EffectiveCost END AS reservation_effective_cost,
    CASE WHEN _ri THEN _c_end END AS reservation_end_time,
    CASE WHEN _t = 'DiscountedUsage' THEN EffectiveCost END AS reservation_recurring_fee_for_usage,
    CASE WHEN _ri THEN CommitmentDiscountId END AS reservation_reservation_a_r_n,
    CASE WHEN _ri THEN _c_start END AS reservation_start_time,
    CASE WHEN _t = 'RIFee' THEN 0 END AS reservation_unused_amortized_upfront_fee_for_billing_period,
    CASE WHEN _t = 'RIFee' THEN _c_unused_qty END AS reservation_unused_quantity,
    CASE WHEN _t = 'RIFee' THEN _c_unused END AS reservation_unused_recurring_fee,
    CASE WHEN Tags IS NULL THEN MAP {{}}::MAP(VARCHAR, VARCHAR) ELSE map_from_entries(list_transform(json_keys(Tags),
        k -> {{'key': 'user_' || regexp_replace(k, '[^0-9A-Za-z]', '_', 'g'),
               'value': json_extract_string(Tags, '/' || replace(replace(k, '~', '~0'), '/', '~1'))}})) END
        AS resource_tags,
    CASE WHEN _t = 'SavingsPlanRecurringFee' THEN 0 END AS savings_plan_amortized_upfront_commitment_for_billing_period,
    CASE WHEN _sp THEN _c_end END AS savings_plan_end_time,
    CASE WHEN _sp THEN _c_offering END AS savings_plan_offering_type,
    CASE WHEN _sp THEN _c_option END AS savings_plan_payment_option,
    CASE WHEN _sp THEN _c_term END AS savings_plan_purchase_term,
    CASE WHEN _t = 'SavingsPlanRecurringFee' THEN BilledCost END
        AS savings_plan_recurring_commitment_for_billing_period,
    CASE WHEN _sp THEN RegionId END AS savings_plan_region,
    CASE WHEN _sp THEN CommitmentDiscountId END AS savings_plan_savings_plan_a_r_n,
    CASE WHEN _t = 'SavingsPlanCoveredUsage' THEN EffectiveCost END AS savings_plan_savings_plan_effective_cost,
    CASE WHEN _t = 'SavingsPlanCoveredUsage' THEN EffectiveCost / NULLIF(PricingQuantity, 0) END
        AS savings_plan_savings_plan_rate,
    CASE WHEN _sp THEN _c_start END AS savings_plan_start_time,
    CASE WHEN _t = 'SavingsPlanRecurringFee' THEN BilledCost END AS savings_plan_total_commitment_to_date,
    CASE WHEN _t = 'SavingsPlanRecurringFee' THEN BilledCost - _c_unused END AS savings_plan_used_commitment,
    {extra}
    FROM f)
SELECT {final},
    CAST(line_item_unblended_cost AS DECIMAL(38, 12)) AS _billed,
    CAST(CASE line_item_line_item_type
        WHEN 'DiscountedUsage' THEN reservation_effective_cost
        WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'RIFee' THEN reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee
        WHEN 'SavingsPlanRecurringFee' THEN savings_plan_total_commitment_to_date - savings_plan_used_commitment
        ELSE line_item_unblended_cost END AS DECIMAL(38, 12)) AS _amortized
FROM cur"""


def select_sql(source: str, commitments: dict[str, dict[str, Any]], tag_keys: list[str]) -> str:
    """SQL turning the FOCUS rows of ``source`` into CUR 2.0 columns (doubles, timestamps, maps), plus
    ``_s_<col>``: the text of each double / timestamp column for legacy CSV; ``_p_<key>``: the product
    attributes; ``_tag_<i>``: the value of ``tag_keys[i]``; ``_billed`` / ``_amortized``: exact decimals.
    ``commitments`` (by CommitmentDiscountId): start, end, term, option, type, unused, unused_qty."""
    per = {k: {cid: lit(c[k]) for cid, c in commitments.items()} for k in ("start", "end", "term", "option")}
    per |= {k: {cid: lit(Decimal(c[k])) for cid, c in commitments.items()} for k in ("unused", "unused_qty")}
    per["offering"] = {cid: "'ComputeSavingsPlans'" for cid, c in commitments.items() if c["type"] == "Savings Plan"}
    final = []
    for c in COLUMNS:
        if c.type == "double":
            dec = f"CAST({c.name} AS DECIMAL(38, 12))"
            final += [f"CAST({dec} AS DOUBLE) AS {c.name}", f"CAST({dec} AS VARCHAR) AS _s_{c.name}"]
        elif c.type == "timestamp":
            final += [c.name, f"strftime({c.name}, '%Y-%m-%dT%H:%M:%SZ') AS _s_{c.name}"]
        elif c.name != "identity_line_item_id":
            final.append(c.name)
    pointers = ["/" + k.replace("~", "~0").replace("/", "~1") for k in tag_keys]
    extra = [f"_p_{k}" for k, _ in PRODUCT_KEYS]
    extra += [f"json_extract_string(Tags, {lit(p)}) AS _tag_{i}" for i, p in enumerate(pointers)]
    final += [f"_p_{k}" for k, _ in PRODUCT_KEYS] + [f"_tag_{i}" for i in range(len(tag_keys))]
    rules = " ".join(f"WHEN regexp_matches(_ut, {lit(rx)}) THEN {lit(op)}" for rx, op in OPERATIONS)
    return _SELECT.format(
        source=source,
        code=_case(
            "ServiceName", {k: lit(v[0]) for k, v in SERVICES.items()}, r"regexp_replace(ServiceName, '\W', '', 'g')"
        ),
        pname=_case("ServiceName", {k: lit(v[1]) for k, v in SERVICES.items()}, "ServiceName"),
        size_rx=lit(_SIZE_RX),
        operation=f"CASE {rules} END",
        product_entries=", ".join(f"{{'key': '{k}', 'value': _p_{k}}}" for k, _ in PRODUCT_KEYS),
        extra=", ".join(extra),
        final=", ".join(final),
        **{f"c_{k}": _case("CommitmentDiscountId", v) for k, v in per.items()},
    )
