"""Azure as the generated company uses it: an EA enrollment billed in EUR, subscriptions, ARM resources.

The EUR price list makes the combined bill multi-currency, which is the point: totals must be kept
per BillingCurrency. Prices approximate public West Europe EUR list prices; illustrative only.
Azure's cost export carries no availability zone, so AvailabilityZone stays null here.
"""

from __future__ import annotations

from typing import Final

from spendscope.generator.catalogue import (
    DAILY,
    METERED,
    STORAGE,
    VM,
    Account,
    CommitmentSpec,
    Meter,
    Provider,
    Region,
    ResourceTemplate,
    meter,
    storage_details,
    vm_details,
)

_EA = 0.08  # negotiated EA discount on compute
_EA_OTHER = 0.04


def _vm(
    size: str, series: str, price: float, cores: int, mem: float, weight: float, teams: tuple[str, ...] = ()
) -> ResourceTemplate:
    m = meter(
        "Azure Virtual Machines",
        f"Virtual Machines {series} Series",
        VM,
        "Hours",
        price,
        (1, 1),
        f"Virtual Machines {series} Series - {size} - {{loc}}",
        meter=size,
        discount=_EA,
        details=vm_details(f"Standard_{size.replace(' ', '_')}", cores, mem),
    )
    return ResourceTemplate(
        f"vm-{size}",
        "Virtual machine",
        "arm:Microsoft.Compute/virtualMachines",
        (m,),
        weight,
        teams=teams,
        office_ok=True,
    )


def _arm(
    key: str, rtype: str, arm_type: str, meters: tuple[Meter, ...], weight: float, teams: tuple[str, ...] = ()
) -> ResourceTemplate:
    return ResourceTemplate(key, rtype, f"arm:{arm_type}", meters, weight, teams=teams)


AZURE: Final = Provider(
    key="azure",
    provider_name="Microsoft",
    publisher_name="Microsoft",
    invoice_issuer="Microsoft",
    currency="EUR",
    billing_account_id="86412957",
    billing_account_name="Acme Commerce Europe GmbH",
    billing_account_type="Enrollment",
    accounts=(
        Account("3f2b8c1e-6d4a-4e9b-9a57-2c1d0e8f7a61", "ml-prod", "Subscription", "prod", ("ml",), 3.0),
        Account("8a41d7f2-0c3e-4b5d-8e69-71f2a4c9b305", "data-prod", "Subscription", "prod", ("data",), 2.5),
        Account("c7e90a34-5b12-4f8e-a3d6-9e0b1c27f458", "platform-shared", "Subscription", "prod", ("platform",), 1.5),
        Account("1d6f3b92-e8a7-4c05-b41e-6a5c9d0e2f17", "ml-dev", "Subscription", "dev", ("ml", "data"), 1.0),
    ),
    regions=(
        Region("westeurope", "West Europe", 1.0, (), ""),
        Region("northeurope", "North Europe", 0.96, (), ""),
        Region("germanywestcentral", "Germany West Central", 1.07, (), ""),
    ),
    templates=(
        _vm("B2ms", "BS", 0.0832, 2, 8, 1.5),
        _vm("D2s v5", "Dsv5", 0.105, 2, 8, 3.0),
        _vm("D4s v5", "Dsv5", 0.21, 4, 16, 5.0),
        _vm("D8s v5", "Dsv5", 0.42, 8, 32, 4.0),
        _vm("E8s v5", "Esv5", 0.554, 8, 64, 2.5),
        _vm("NC6s v3", "NCSv3", 3.366, 6, 112, 0.4, teams=("ml",)),
        _arm(
            "managed-disk",
            "Disk",
            "Microsoft.Compute/disks",
            (
                meter(
                    "Azure Managed Disks",
                    "Premium SSD v2",
                    STORAGE,
                    "GiB-Months",
                    0.078,
                    (64, 2048),
                    "Premium SSD v2 Managed Disks - Provisioned Capacity - {loc}",
                    meter="Premium SSD v2 Capacity",
                    discount=_EA_OTHER,
                    details=storage_details("Premium SSD v2"),
                ),
            ),
            4.0,
        ),
        _arm(
            "storage-account",
            "Storage account",
            "Microsoft.Storage/storageAccounts",
            (
                meter(
                    "Azure Blob Storage",
                    "Blob Storage Hot LRS",
                    STORAGE,
                    "GB-Months",
                    0.0184,
                    (200, 40000),
                    "Blob Storage - Hot LRS Data Stored - {loc}",
                    meter="Hot LRS Data Stored",
                    discount=_EA_OTHER,
                    details=storage_details("Hot"),
                ),
                meter(
                    "Azure Blob Storage",
                    "Blob Storage Hot LRS",
                    DAILY,
                    "10000 Requests",
                    0.0527,
                    (5, 800),
                    "Blob Storage - Hot LRS Write Operations - {loc}",
                    meter="Hot LRS Write Operations",
                    consumed="Requests",
                    block=10_000,
                    discount=_EA_OTHER,
                ),
            ),
            4.0,
        ),
        _arm(
            "sql-database",
            "SQL database",
            "Microsoft.Sql/servers/databases",
            (
                meter(
                    "Azure SQL Database",
                    "SQL Database Single General Purpose",
                    VM,
                    "Hours",
                    0.9314,
                    (1, 1),
                    "SQL Database Single General Purpose - Compute Gen5 - 4 vCore - {loc}",
                    meter="4 vCore",
                    discount=_EA_OTHER,
                ),
            ),
            2.0,
        ),
        _arm(
            "redis",
            "Redis cache",
            "Microsoft.Cache/Redis",
            (
                meter(
                    "Azure Cache for Redis",
                    "Redis Cache Standard",
                    VM,
                    "Hours",
                    0.224,
                    (1, 1),
                    "Redis Cache - Standard - C2 Cache Instance - {loc}",
                    meter="C2 Cache Instance",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
        ),
        _arm(
            "aks-cluster",
            "Kubernetes service",
            "Microsoft.ContainerService/managedClusters",
            (
                meter(
                    "Azure Kubernetes Service",
                    "Azure Kubernetes Service Standard",
                    VM,
                    "Hours",
                    0.0929,
                    (1, 1),
                    "Azure Kubernetes Service - Standard - Uptime SLA - {loc}",
                    meter="Standard Uptime SLA",
                    discount=_EA_OTHER,
                ),
            ),
            0.8,
            teams=("platform", "ml"),
        ),
        _arm(
            "public-ip",
            "Public IP address",
            "Microsoft.Network/publicIPAddresses",
            (
                meter(
                    "Azure Bandwidth",
                    "Bandwidth Rtn Preference: MGN",
                    METERED,
                    "GB",
                    0.0805,
                    (0.1, 10),
                    "Bandwidth - Standard Data Transfer Out - {loc}",
                    meter="Standard Data Transfer Out",
                    discount=_EA_OTHER,
                ),
            ),
            2.0,
        ),
        _arm(
            "load-balancer",
            "Load balancer",
            "Microsoft.Network/loadBalancers",
            (
                meter(
                    "Azure Load Balancer",
                    "Load Balancer Standard",
                    VM,
                    "Hours",
                    0.0232,
                    (1, 1),
                    "Load Balancer - Standard Included LB Rules and Outbound Rules - {loc}",
                    meter="Standard Included LB Rules and Outbound Rules",
                    discount=_EA_OTHER,
                ),
                meter(
                    "Azure Load Balancer",
                    "Load Balancer Standard",
                    METERED,
                    "GB",
                    0.0046,
                    (2, 150),
                    "Load Balancer - Standard Data Processed - {loc}",
                    meter="Standard Data Processed",
                    discount=_EA_OTHER,
                ),
            ),
            1.5,
        ),
        _arm(
            "log-analytics",
            "Log Analytics workspace",
            "Microsoft.OperationalInsights/workspaces",
            (
                meter(
                    "Azure Monitor",
                    "Log Analytics Analytics Logs",
                    DAILY,
                    "GB",
                    2.67,
                    (0.2, 8),
                    "Log Analytics - Analytics Logs Data Ingestion - {loc}",
                    meter="Analytics Logs Data Ingestion",
                    discount=_EA_OTHER,
                ),
            ),
            1.5,
        ),
        _arm(
            "function-app",
            "Function app",
            "Microsoft.Web/sites",
            (
                meter(
                    "Azure Functions",
                    "Functions Standard",
                    METERED,
                    "1000000 Requests",
                    0.184,
                    (0.005, 0.5),
                    "Functions - Standard Total Executions - {loc}",
                    meter="Standard Total Executions",
                    consumed="Requests",
                    block=1_000_000,
                    discount=_EA_OTHER,
                ),
                meter(
                    "Azure Functions",
                    "Functions Standard",
                    METERED,
                    "GB-Seconds",
                    0.000015,
                    (200, 40000),
                    "Functions - Standard Execution Time - {loc}",
                    meter="Standard Execution Time",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
        ),
    ),
    new_services=(
        _arm(
            "openai",
            "Cognitive Services account",
            "Microsoft.CognitiveServices/accounts",
            (
                meter(
                    "Azure OpenAI",
                    "Cognitive Services OpenAI",
                    METERED,
                    "1000 Tokens",
                    0.0023,
                    (500, 20000),
                    "Azure OpenAI - Input Tokens - {loc}",
                    meter="Input Tokens",
                    consumed="Tokens",
                    block=1000,
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
            teams=("ml",),
        ),
        _arm(
            "databricks",
            "Databricks workspace",
            "Microsoft.Databricks/workspaces",
            (
                meter(
                    "Azure Databricks",
                    "Azure Databricks Premium",
                    METERED,
                    "DBU-Hours",
                    0.515,
                    (4, 60),
                    "Azure Databricks - Premium All-purpose Compute DBU - {loc}",
                    meter="Premium All-purpose Compute DBU",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
            teams=("data", "ml"),
        ),
        _arm(
            "cosmos-db",
            "Azure Cosmos DB account",
            "Microsoft.DocumentDB/databaseAccounts",
            (
                meter(
                    "Azure Cosmos DB",
                    "Azure Cosmos DB",
                    VM,
                    "Hours",
                    0.0075,
                    (4, 40),
                    "Azure Cosmos DB - 100 RU/s - {loc}",
                    meter="100 RU/s",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
        ),
        _arm(
            "ai-search",
            "Search service",
            "Microsoft.Search/searchServices",
            (
                meter(
                    "Azure AI Search",
                    "Azure Cognitive Search Standard",
                    VM,
                    "Hours",
                    0.306,
                    (1, 3),
                    "Azure AI Search - Standard S1 Unit - {loc}",
                    meter="Standard S1 Unit",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
            teams=("ml", "data"),
        ),
        _arm(
            "event-hubs",
            "Event Hubs namespace",
            "Microsoft.EventHub/namespaces",
            (
                meter(
                    "Azure Event Hubs",
                    "Event Hubs Standard",
                    VM,
                    "Hours",
                    0.028,
                    (2, 10),
                    "Event Hubs - Standard Throughput Unit - {loc}",
                    meter="Standard Throughput Unit",
                    discount=_EA_OTHER,
                ),
            ),
            1.0,
            teams=("data", "platform"),
        ),
    ),
    commitment=CommitmentSpec(
        template="vm-D4s v5",
        region="westeurope",
        type="Reservation",
        name="Reserved VM Instance, Standard_D4s_v5, West Europe, 1 Year",
        id_format="/providers/Microsoft.Capacity/reservationOrders/{uid}/reservations/{uid2}",
        rate_factor=0.59,
        purchase_meter="Reservation-Base VM",
        owner_account=0,
    ),
    row_share=0.25,
    tax_rate=0.0,
    credit=None,
    support=None,
    upper_case_faults=True,
)
