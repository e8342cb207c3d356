"""The static vocabulary of the generated company: teams, apps, services and the shapes of their bills.

Everything here is fixed data, independent of the seed: the seed only decides which resources
exist, how big they are and when things go wrong (``world.py``). Keeping names, prices and
FOCUS categories in one place is what lets ``ServiceName`` map to exactly one ``ServiceCategory``
on every row, usage, purchase, tax and credit alike.

Prices are list prices per ``PricingUnit`` in the provider's billing currency for the provider's
reference region (other regions apply ``Region.price_factor``); they are rounded to six decimals
because the generator multiplies prices and quantities as integers (see ``rows.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

# Meter kinds: how a meter's quantity evolves and at which grain its rows are written.
VM: Final = 0
"""Hourly rows, a fixed quantity per running hour (instance-hours, vCPU-hours of a fixed VM)."""
METERED: Final = 1
"""Hourly rows, quantity follows the app's traffic (requests, GB transferred, LCU-hours)."""
STORAGE: Final = 2
"""Daily rows, quantity is stored capacity pro-rated to the day (GB-Months), slowly growing."""
DAILY: Final = 3
"""Daily rows, quantity follows the app's daily traffic (requests, log GB ingested)."""

Profile = Literal["traffic", "batch", "flat", "business"]


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    cost_center: str


@dataclass(frozen=True, slots=True)
class App:
    """An application service: the value of tag ``app`` and a row of the transactions file."""

    name: str
    team: str
    profile: Profile
    peak_hour_utc: int
    requests_per_hour: float
    """Mean transactions per hour at the start of the generated range (prod)."""
    growth_per_month: float
    """Mild compound traffic trend, carried across months so history is continuous."""


@dataclass(frozen=True, slots=True)
class Meter:
    """One priced usage stream of a resource (a resource has one or more meters, like on a real bill)."""

    service: str
    usage_type: str
    """``x_UsageType``; for AWS prefixed with the region code (``USE1-``) at generation time."""
    sku_meter: str
    """``SkuMeter``: AWS usage type, Azure meter name, GCP SKU description (``{loc}`` = SKU location)."""
    description: str
    """``ChargeDescription`` template: ``{price}``, ``{cur}``, ``{loc}``."""
    kind: int
    pricing_unit: str
    consumed_unit: str
    block: int
    """ConsumedQuantity = PricingQuantity × block ("1000 Requests" → block 1000)."""
    price: float
    base: tuple[float, float]
    """VM: fixed quantity per hour; METERED: mean per hour; DAILY: mean per day; STORAGE: capacity."""
    discount: float = 0.0
    """Negotiated discount: ContractedUnitPrice = ListUnitPrice × (1 − discount)."""
    details: str | None = None
    """``SkuPriceDetails`` JSON (FOCUS-defined keys, or ``x_`` keys)."""


@dataclass(frozen=True, slots=True)
class ResourceTemplate:
    key: str
    resource_type: str | None
    """``ResourceType``; None for charges that belong to no resource (BigQuery analysis)."""
    id_style: str
    """How ``world.py`` spells the ResourceId (``ec2``, ``arm:Microsoft.Compute/virtualMachines``…)."""
    meters: tuple[Meter, ...]
    weight: float
    teams: tuple[str, ...] = ()
    """Teams that run this kind of resource; empty means any team."""
    zonal: bool = False
    regional: bool = True
    """False for global services (CloudFront): RegionId is null."""
    office_ok: bool = False
    """In staging/dev the resource may run on an office-hours schedule (stopped nights and weekends)."""


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    name: str
    price_factor: float
    zones: tuple[str, ...]
    code: str
    """AWS usage-type prefix (``USE1``) or GCP SKU location (``Belgium``, ``Americas``)."""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    type: str
    env: str
    teams: tuple[str, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class CommitmentSpec:
    """A provider's commitment discount (RI, reservation, CUD) over one VM template's first meter."""

    template: str
    region: str
    type: str
    name: str
    id_format: str
    """``{acct}``, ``{region}``, ``{uid}``, ``{name}`` are filled by ``world.py``."""
    rate_factor: float
    """Amortized hourly rate as a fraction of the list price (1-year term, no upfront)."""
    purchase_meter: str
    owner_account: int
    """Index of the account whose bill carries the purchase row."""


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    provider_name: str
    publisher_name: str
    invoice_issuer: str
    currency: str
    billing_account_id: str
    billing_account_name: str
    billing_account_type: str
    accounts: tuple[Account, ...]
    regions: tuple[Region, ...]
    templates: tuple[ResourceTemplate, ...]
    new_services: tuple[ResourceTemplate, ...]
    """Services the company starts using during the range (the ``new_spend`` anomalies)."""
    commitment: CommitmentSpec
    row_share: float
    """Share of the requested rows this provider gets."""
    tax_rate: float
    """Sales tax on the monthly invoice, per account and service (0: reverse-charged VAT)."""
    credit: tuple[str, str, float] | None
    """(ServiceName, description, share of that service's billed cost credited each month)."""
    support: str | None
    """ServiceName of a recurring support plan billed on the management account (tiered % of usage)."""
    upper_case_faults: bool
    """Whether tag keys/values may carry upper case (GCP labels cannot)."""


TEAMS: Final[tuple[Team, ...]] = (
    Team("payments", "CC-1010"),
    Team("checkout", "CC-1020"),
    Team("search", "CC-1030"),
    Team("data", "CC-2010"),
    Team("ml", "CC-2050"),
    Team("platform", "CC-3000"),
)
ALL_TEAMS: Final[tuple[str, ...]] = tuple(t.name for t in TEAMS)
TEAM_INDEX: Final[dict[str, int]] = {t.name: i for i, t in enumerate(TEAMS)}

APPS: Final[tuple[App, ...]] = (
    App("payments-api", "payments", "traffic", 17, 120_000, 0.025),
    App("payments-worker", "payments", "traffic", 17, 45_000, 0.02),
    App("checkout-web", "checkout", "traffic", 18, 900_000, 0.03),
    App("checkout-api", "checkout", "traffic", 18, 310_000, 0.03),
    App("search-api", "search", "traffic", 16, 650_000, 0.02),
    App("search-indexer", "search", "batch", 3, 20_000, 0.01),
    App("data-pipeline", "data", "batch", 2, 4_800_000, 0.04),
    App("data-warehouse", "data", "business", 13, 2_200, 0.03),
    App("platform-gateway", "platform", "traffic", 16, 1_500_000, 0.025),
    App("observability", "platform", "flat", 12, 3_000_000, 0.02),
    App("ml-inference", "ml", "traffic", 14, 210_000, 0.05),
    App("ml-training", "ml", "batch", 1, 1_000, 0.04),
)
APP_INDEX: Final[dict[str, int]] = {a.name: i for i, a in enumerate(APPS)}

# FOCUS 1.2 ServiceCategory / ServiceSubcategory of every service the generator writes. One entry
# per ServiceName is what keeps the category unique per name on every row.
SERVICES: Final[dict[str, tuple[str, str]]] = {
    # AWS
    "Amazon EC2": ("Compute", "Virtual Machines"),
    "Amazon ECS": ("Compute", "Containers"),
    "Amazon EKS": ("Compute", "Containers"),
    "AWS Lambda": ("Compute", "Serverless Compute"),
    "Amazon S3": ("Storage", "Object Storage"),
    "Amazon RDS": ("Databases", "Relational Databases"),
    "Amazon DynamoDB": ("Databases", "NoSQL Databases"),
    "Amazon ElastiCache": ("Databases", "Caching"),
    "Amazon OpenSearch Service": ("Analytics", "Search"),
    "Amazon CloudFront": ("Networking", "Content Delivery"),
    "Elastic Load Balancing": ("Networking", "Application Networking"),
    "Amazon VPC": ("Networking", "Network Infrastructure"),
    "AWS Data Transfer": ("Networking", "Network Connectivity"),
    "Amazon CloudWatch": ("Management and Governance", "Observability"),
    "AWS Support (Business)": ("Management and Governance", "Support"),
    "Amazon SageMaker": ("AI and Machine Learning", "Machine Learning"),
    "Amazon Bedrock": ("AI and Machine Learning", "Generative AI"),
    "AWS Glue": ("Analytics", "Data Processing"),
    "Amazon Redshift": ("Databases", "Data Warehouses"),
    "Amazon Kinesis": ("Analytics", "Streaming Analytics"),
    # Azure
    "Azure Virtual Machines": ("Compute", "Virtual Machines"),
    "Azure Managed Disks": ("Storage", "Block Storage"),
    "Azure Blob Storage": ("Storage", "Object Storage"),
    "Azure SQL Database": ("Databases", "Relational Databases"),
    "Azure Cache for Redis": ("Databases", "Caching"),
    "Azure Kubernetes Service": ("Compute", "Containers"),
    "Azure Bandwidth": ("Networking", "Network Connectivity"),
    "Azure Load Balancer": ("Networking", "Application Networking"),
    "Azure Monitor": ("Management and Governance", "Observability"),
    "Azure Functions": ("Compute", "Serverless Compute"),
    "Azure OpenAI": ("AI and Machine Learning", "Generative AI"),
    "Azure Cosmos DB": ("Databases", "NoSQL Databases"),
    "Azure Databricks": ("Analytics", "Data Processing"),
    "Azure AI Search": ("Analytics", "Search"),
    "Azure Event Hubs": ("Integration", "Messaging"),
    # Google Cloud
    "Compute Engine": ("Compute", "Virtual Machines"),
    "Cloud Storage": ("Storage", "Object Storage"),
    "BigQuery": ("Analytics", "Data Processing"),
    "Cloud SQL": ("Databases", "Relational Databases"),
    "Kubernetes Engine": ("Compute", "Containers"),
    "Cloud Run": ("Compute", "Serverless Compute"),
    "Networking": ("Networking", "Network Connectivity"),
    "Cloud Logging": ("Management and Governance", "Observability"),
    "Vertex AI": ("AI and Machine Learning", "AI Platforms"),
    "Pub/Sub": ("Integration", "Messaging"),
    "Dataflow": ("Analytics", "Data Processing"),
    "Cloud Spanner": ("Databases", "Relational Databases"),
}


def meter(
    service: str,
    usage_type: str,
    kind: int,
    unit: str,
    price: float,
    base: tuple[float, float],
    desc: str,
    *,
    consumed: str | None = None,
    block: int = 1,
    meter: str | None = None,
    discount: float = 0.0,
    details: str | None = None,
) -> Meter:
    """A Meter with the consumed unit defaulting to the pricing unit (block 1)."""
    return Meter(
        service,
        usage_type,
        meter or usage_type,
        desc,
        kind,
        unit,
        consumed or unit,
        block,
        price,
        base,
        discount,
        details,
    )


def vm_details(instance_type: str, cores: int, memory_gib: float, os: str = "Linux") -> str:
    """SkuPriceDetails of a VM SKU: FOCUS-defined keys only, values per PricingUnit."""
    mem = f"{memory_gib:g}"
    return (
        f'{{"CoreCount": {cores}, "InstanceType": "{instance_type}", "MemorySize": {mem}, "OperatingSystem": "{os}"}}'
    )


def storage_details(storage_class: str) -> str:
    return f'{{"StorageClass": "{storage_class}"}}'
