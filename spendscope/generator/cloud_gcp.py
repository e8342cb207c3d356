"""Google Cloud as the generated company uses it: one billing account, projects, SKU-level meters.

GCP bills a VM as two meters (cores and memory), and BigQuery analysis belongs to no resource
(ResourceId null); both are kept because analysts meet them in real exports. Label values are
lower case on GCP, so the upper-case tag faults are not generated here. Prices approximate public
europe-west1 list prices; illustrative only.
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

_CONTRACT = 0.05


def _gce(
    itype: str,
    family: str,
    core_price: float,
    ram_price: float,
    cores: int,
    mem: int,
    weight: float,
    office: bool = True,
) -> ResourceTemplate:
    details = vm_details(itype, cores, mem)
    core = meter(
        "Compute Engine",
        f"{family} Instance Core",
        VM,
        "vCPU-Hours",
        core_price,
        (cores, cores),
        f"{family} Instance Core running in {{loc}}",
        meter=f"{family} Instance Core running in {{loc}}",
        discount=_CONTRACT,
        details=details,
    )
    ram = meter(
        "Compute Engine",
        f"{family} Instance Ram",
        VM,
        "GiB-Hours",
        ram_price,
        (mem, mem),
        f"{family} Instance Ram running in {{loc}}",
        meter=f"{family} Instance Ram running in {{loc}}",
        discount=_CONTRACT,
        details=details,
    )
    return ResourceTemplate(f"gce-{itype}", "Instance", "gce", (core, ram), weight, zonal=True, office_ok=office)


def _one(
    service: str, usage: str, kind: int, unit: str, price: float, base: tuple[float, float], **kw: str | int
) -> Meter:
    """A GCP meter whose SkuMeter and description are the SKU description."""
    return meter(
        service,
        usage,
        kind,
        unit,
        price,
        base,
        usage,
        meter=usage,
        discount=_CONTRACT,
        consumed=str(kw["consumed"]) if "consumed" in kw else None,
        block=int(kw.get("block", 1)),
    )


GCP: Final = Provider(
    key="gcp",
    provider_name="Google Cloud",
    publisher_name="Google Cloud",
    invoice_issuer="Google Cloud",
    currency="USD",
    billing_account_id="01A2B3-C4D5E6-F7A8B9",
    billing_account_name="Acme Commerce - Google Cloud",
    billing_account_type="Billing Account",
    accounts=(
        Account("acme-data-prod", "Data Platform (prod)", "Project", "prod", ("data",), 3.0),
        Account("acme-search-prod", "Search (prod)", "Project", "prod", ("search",), 2.5),
        Account("acme-ml-prod", "ML Serving (prod)", "Project", "prod", ("ml",), 1.5),
        Account("acme-sandbox-dev", "Sandbox (dev)", "Project", "dev", ("data", "ml", "search"), 1.0),
    ),
    regions=(
        Region("europe-west1", "Belgium", 1.0, ("europe-west1-b", "europe-west1-c", "europe-west1-d"), "Belgium"),
        Region(
            "us-central1",
            "Iowa",
            0.91,
            ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
            "Americas",
        ),
        Region(
            "europe-west4", "Netherlands", 1.09, ("europe-west4-a", "europe-west4-b", "europe-west4-c"), "Netherlands"
        ),
    ),
    templates=(
        _gce("n2-standard-4", "N2", 0.034873, 0.004674, 4, 16, 4.0),
        _gce("n2-standard-8", "N2", 0.034873, 0.004674, 8, 32, 4.0),
        _gce("n2-highmem-8", "N2", 0.034873, 0.004674, 8, 64, 1.5),
        _gce("e2-standard-4", "E2", 0.023936, 0.003208, 4, 16, 2.0),
        ResourceTemplate(
            "pd-balanced",
            "Disk",
            "gce-disk",
            (
                meter(
                    "Compute Engine",
                    "Balanced PD Capacity",
                    STORAGE,
                    "GiB-Months",
                    0.11,
                    (50, 2000),
                    "Balanced PD Capacity in {loc}",
                    meter="Balanced PD Capacity in {loc}",
                    discount=_CONTRACT,
                    details=storage_details("Balanced"),
                ),
            ),
            4.0,
            zonal=True,
        ),
        ResourceTemplate(
            "gcs-bucket",
            "Bucket",
            "gcs",
            (
                meter(
                    "Cloud Storage",
                    "Standard Storage",
                    STORAGE,
                    "GiB-Months",
                    0.02,
                    (200, 80000),
                    "Standard Storage {loc}",
                    meter="Standard Storage {loc}",
                    discount=_CONTRACT,
                    details=storage_details("Standard"),
                ),
                _one(
                    "Cloud Storage",
                    "Standard Storage Class A Operations",
                    DAILY,
                    "1000 Requests",
                    0.005,
                    (10, 2000),
                    consumed="Requests",
                    block=1000,
                ),
            ),
            4.0,
        ),
        ResourceTemplate(
            "bq-analysis",
            None,
            "none",
            (_one("BigQuery", "Analysis", METERED, "TiB", 6.25, (0.005, 0.3)),),
            2.0,
            teams=("data", "ml", "search"),
        ),
        ResourceTemplate(
            "bq-dataset",
            "Dataset",
            "bq-dataset",
            (_one("BigQuery", "Active Logical Storage", STORAGE, "GiB-Months", 0.02, (500, 50000)),),
            2.0,
            teams=("data", "ml"),
        ),
        ResourceTemplate(
            "cloud-sql",
            "Instance",
            "cloudsql",
            (
                meter(
                    "Cloud SQL",
                    "Cloud SQL for PostgreSQL: Zonal - vCPU",
                    VM,
                    "vCPU-Hours",
                    0.0413,
                    (4, 4),
                    "Cloud SQL for PostgreSQL: Zonal - vCPU in {loc}",
                    meter="Cloud SQL for PostgreSQL: Zonal - vCPU in {loc}",
                    discount=_CONTRACT,
                ),
                meter(
                    "Cloud SQL",
                    "Cloud SQL for PostgreSQL: Zonal - RAM",
                    VM,
                    "GiB-Hours",
                    0.007,
                    (16, 16),
                    "Cloud SQL for PostgreSQL: Zonal - RAM in {loc}",
                    meter="Cloud SQL for PostgreSQL: Zonal - RAM in {loc}",
                    discount=_CONTRACT,
                ),
            ),
            2.0,
            zonal=True,
            office_ok=True,
        ),
        ResourceTemplate(
            "gke-workload",
            "Workload",
            "gke-workload",
            (
                _one("Kubernetes Engine", "Autopilot Pod mCPU Requests", METERED, "vCPU-Hours", 0.0445, (1, 24)),
                _one("Kubernetes Engine", "Autopilot Pod Memory Requests", METERED, "GiB-Hours", 0.004923, (4, 96)),
            ),
            3.0,
        ),
        ResourceTemplate(
            "gke-cluster",
            "Cluster",
            "gke-cluster",
            (_one("Kubernetes Engine", "Regional Kubernetes Clusters", VM, "Hours", 0.1, (1, 1)),),
            0.8,
        ),
        ResourceTemplate(
            "cloud-run",
            "Service",
            "run",
            (
                _one("Cloud Run", "CPU Allocation Time", METERED, "vCPU-Seconds", 0.000024, (500, 40000)),
                _one(
                    "Cloud Run",
                    "Requests",
                    METERED,
                    "1000000 Requests",
                    0.4,
                    (0.005, 0.5),
                    consumed="Requests",
                    block=1_000_000,
                ),
            ),
            2.0,
        ),
        ResourceTemplate(
            "gclb",
            "Forwarding rule",
            "gclb",
            (
                _one(
                    "Networking",
                    "Network Load Balancing: Forwarding Rule Minimum Service Charge",
                    VM,
                    "Hours",
                    0.025,
                    (1, 1),
                ),
                _one("Networking", "Network Internet Data Transfer Out", METERED, "GiB", 0.12, (0.1, 8)),
            ),
            2.0,
        ),
        ResourceTemplate(
            "log-bucket",
            "Log bucket",
            "log-bucket",
            (_one("Cloud Logging", "Log Storage cost", DAILY, "GiB", 0.5, (1, 60)),),
            1.5,
        ),
    ),
    new_services=(
        ResourceTemplate(
            "vertex-endpoint",
            "Endpoint",
            "vertex",
            (_one("Vertex AI", "Online Prediction n1-standard-8", VM, "Hours", 0.437, (1, 2)),),
            1.0,
            teams=("ml", "search"),
        ),
        ResourceTemplate(
            "dataflow-job",
            "Job",
            "dataflow",
            (_one("Dataflow", "vCPU Time Batch", METERED, "vCPU-Hours", 0.056, (8, 200)),),
            1.0,
            teams=("data",),
        ),
        ResourceTemplate(
            "pubsub-topic",
            "Topic",
            "pubsub",
            (_one("Pub/Sub", "Message Delivery Basic", METERED, "TiB", 40.0, (0.001, 0.05)),),
            1.0,
        ),
        ResourceTemplate(
            "spanner-instance",
            "Instance",
            "spanner",
            (_one("Cloud Spanner", "Spanner Regional Instance Compute", VM, "Hours", 0.99, (1, 3)),),
            1.0,
            teams=("search", "data"),
        ),
    ),
    commitment=CommitmentSpec(
        template="gce-n2-standard-8",
        region="europe-west1",
        type="Committed Use Discount",
        name="cud-n2-europe-west1-1y",
        id_format="projects/{acct}/regions/{region}/commitments/{name}",
        rate_factor=0.63,
        purchase_meter="Commitment v1: N2 Cpu in {loc} for 1 Year",
        owner_account=0,
    ),
    row_share=0.25,
    tax_rate=0.0625,
    credit=("BigQuery", "Promotional credit: BigQuery migration offer", 0.2),
    support=None,
    upper_case_faults=False,
)
