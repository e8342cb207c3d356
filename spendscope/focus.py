"""The FOCUS cost-and-usage schema as spendscope stores it.

One place that knows the FinOps Foundation's FOCUS columns, their types in the warehouse, the
version that introduced each, and the allowed values spendscope normalizes. The warehouse DDL
(``spendscope/sql/migrations``), the FOCUS collector, the exporter and the generator all read
this module, so the schema is designed once.

Money, prices and quantities are ``DECIMAL(38, 12)``: exact sums, twelve decimal places (bills
carry up to eleven) and 26 integer digits. Timestamps are ``TIMESTAMPTZ`` in UTC. Tags and the
other key-value columns are DuckDB ``JSON`` (a JSON object string on export, as FOCUS requires).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

FocusType = Literal["decimal", "timestamp", "string", "json"]
FocusVersion = Literal["1.0", "1.1", "1.2", "1.3"]

DECIMAL_SQL: Final = "DECIMAL(38, 12)"
SQL_TYPES: Final[dict[FocusType, str]] = {
    "decimal": DECIMAL_SQL,
    "timestamp": "TIMESTAMPTZ",
    "string": "VARCHAR",
    "json": "JSON",
}


@dataclass(frozen=True, slots=True)
class FocusColumn:
    name: str
    type: FocusType
    introduced: FocusVersion
    mandatory: bool
    """Mandatory in the FOCUS spec: an input file of a version that has it must carry the column."""
    nullable: bool
    """Whether FOCUS allows null values in the column (for any row)."""

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


def _c(name: str, type_: FocusType, introduced: FocusVersion, mandatory: bool, nullable: bool) -> FocusColumn:
    return FocusColumn(name, type_, introduced, mandatory, nullable)


# FOCUS 1.2's 57 columns in the spec's (alphabetical) order, then the columns FOCUS 1.3 adds.
# "mandatory" follows the spec's Feature level; 1.0-preview/0.5 columns count as 1.0.
FOCUS_COLUMNS: Final[tuple[FocusColumn, ...]] = (
    _c("AvailabilityZone", "string", "1.0", False, True),
    _c("BilledCost", "decimal", "1.0", True, False),
    _c("BillingAccountId", "string", "1.0", True, False),
    _c("BillingAccountName", "string", "1.0", True, True),
    _c("BillingAccountType", "string", "1.2", False, True),
    _c("BillingCurrency", "string", "1.0", True, False),
    _c("BillingPeriodEnd", "timestamp", "1.0", True, False),
    _c("BillingPeriodStart", "timestamp", "1.0", True, False),
    _c("CapacityReservationId", "string", "1.1", False, True),
    _c("CapacityReservationStatus", "string", "1.1", False, True),
    _c("ChargeCategory", "string", "1.0", True, False),
    _c("ChargeClass", "string", "1.0", True, True),
    _c("ChargeDescription", "string", "1.0", True, True),
    _c("ChargeFrequency", "string", "1.0", False, True),
    _c("ChargePeriodEnd", "timestamp", "1.0", True, False),
    _c("ChargePeriodStart", "timestamp", "1.0", True, False),
    _c("CommitmentDiscountCategory", "string", "1.0", False, True),
    _c("CommitmentDiscountId", "string", "1.0", False, True),
    _c("CommitmentDiscountName", "string", "1.0", False, True),
    _c("CommitmentDiscountQuantity", "decimal", "1.1", False, True),
    _c("CommitmentDiscountStatus", "string", "1.0", False, True),
    _c("CommitmentDiscountType", "string", "1.0", False, True),
    _c("CommitmentDiscountUnit", "string", "1.1", False, True),
    _c("ConsumedQuantity", "decimal", "1.0", False, True),
    _c("ConsumedUnit", "string", "1.0", False, True),
    _c("ContractedCost", "decimal", "1.0", True, False),
    _c("ContractedUnitPrice", "decimal", "1.0", False, True),
    _c("EffectiveCost", "decimal", "1.0", True, False),
    _c("InvoiceId", "string", "1.2", False, True),
    _c("InvoiceIssuerName", "string", "1.0", True, False),
    _c("ListCost", "decimal", "1.0", True, False),
    _c("ListUnitPrice", "decimal", "1.0", False, True),
    _c("PricingCategory", "string", "1.0", False, True),
    _c("PricingCurrency", "string", "1.2", False, True),
    _c("PricingCurrencyContractedUnitPrice", "decimal", "1.2", False, True),
    _c("PricingCurrencyEffectiveCost", "decimal", "1.2", False, True),
    _c("PricingCurrencyListUnitPrice", "decimal", "1.2", False, True),
    _c("PricingQuantity", "decimal", "1.0", True, True),
    _c("PricingUnit", "string", "1.0", True, True),
    _c("ProviderName", "string", "1.0", True, False),
    _c("PublisherName", "string", "1.0", True, False),
    _c("RegionId", "string", "1.0", False, True),
    _c("RegionName", "string", "1.0", False, True),
    _c("ResourceId", "string", "1.0", False, True),
    _c("ResourceName", "string", "1.0", False, True),
    _c("ResourceType", "string", "1.0", False, True),
    _c("ServiceCategory", "string", "1.0", True, False),
    _c("ServiceName", "string", "1.0", True, False),
    _c("ServiceSubcategory", "string", "1.1", False, True),
    _c("SkuId", "string", "1.0", False, True),
    _c("SkuMeter", "string", "1.1", False, True),
    _c("SkuPriceDetails", "json", "1.1", False, True),
    _c("SkuPriceId", "string", "1.0", False, True),
    _c("SubAccountId", "string", "1.0", False, True),
    _c("SubAccountName", "string", "1.0", False, True),
    _c("SubAccountType", "string", "1.2", False, True),
    _c("Tags", "json", "1.0", False, True),
    # FOCUS 1.3 additions (ProviderName and PublisherName are deprecated there in favour of
    # ServiceProviderName and HostProviderName; spendscope keeps both sets).
    _c("AllocatedMethodDetails", "json", "1.3", False, True),
    _c("AllocatedMethodId", "string", "1.3", False, True),
    _c("AllocatedResourceId", "string", "1.3", False, True),
    _c("AllocatedResourceName", "string", "1.3", False, True),
    _c("AllocatedTags", "json", "1.3", False, True),
    _c("ContractApplied", "json", "1.3", False, True),
    _c("HostProviderName", "string", "1.3", False, True),
    _c("ServiceProviderName", "string", "1.3", False, True),
)

COLUMNS_BY_NAME: Final[dict[str, FocusColumn]] = {c.name: c for c in FOCUS_COLUMNS}
FOCUS_1_2_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in FOCUS_COLUMNS if c.introduced != "1.3")
MONEY_COLUMNS: Final[tuple[str, ...]] = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")

# Provider extension columns the warehouse keeps as real columns (FOCUS requires the x_ prefix).
# Any other x_ column of an input file lands in x_Extensions as a JSON object.
EXTENSION_COLUMNS: Final[dict[str, str]] = {
    "x_ResourceGroupName": "VARCHAR",
    "x_UsageType": "VARCHAR",
    "x_Operation": "VARCHAR",
    "x_CostType": "VARCHAR",
    "x_Estimated": "BOOLEAN",
    "x_Extensions": "JSON",
}

# Lineage columns written by spendscope itself, never read from an input file.
LINEAGE_COLUMNS: Final[dict[str, str]] = {
    "x_IngestId": "BIGINT",
    "x_SourceFile": "VARCHAR",
}

# Allowed values (FOCUS 1.2). Inputs whose value differs only in case are normalized to these.
ALLOWED_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "ChargeCategory": ("Usage", "Purchase", "Tax", "Credit", "Adjustment"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CommitmentDiscountStatus": ("Used", "Unused"),
    "CapacityReservationStatus": ("Used", "Unused"),
    "PricingCategory": ("Standard", "Dynamic", "Committed", "Other"),
    "ServiceCategory": (
        "AI and Machine Learning",
        "Analytics",
        "Business Applications",
        "Compute",
        "Databases",
        "Developer Tools",
        "Multicloud",
        "Identity",
        "Integration",
        "Internet of Things",
        "Management and Governance",
        "Media",
        "Migration",
        "Mobile",
        "Networking",
        "Security",
        "Storage",
        "Web",
        "Other",
    ),
}


def version_columns(version: FocusVersion) -> tuple[FocusColumn, ...]:
    """Columns a file of this FOCUS version carries (1.3 keeps the deprecated provider columns)."""
    order = ("1.0", "1.1", "1.2", "1.3")
    return tuple(c for c in FOCUS_COLUMNS if order.index(c.introduced) <= order.index(version))


def detect_version(columns: set[str]) -> FocusVersion:
    """The newest FOCUS version whose introduced columns the file carries (at least one of them)."""
    for version, marker in (
        ("1.3", {"ServiceProviderName", "HostProviderName", "AllocatedMethodId", "ContractApplied"}),
        ("1.2", {"PricingCurrency", "InvoiceId", "BillingAccountType", "SubAccountType"}),
        ("1.1", {"ServiceSubcategory", "SkuMeter", "SkuPriceDetails", "CommitmentDiscountQuantity"}),
    ):
        if columns & marker:
            return version  # type: ignore[return-value]
    return "1.0"
