"""AWS as the generated company uses it: payer and linked accounts, regions, resources, price list.

Prices approximate public us-east-1 list prices so unit economics look familiar to a FinOps reader;
they are illustrative, not a price list. Names follow AWS's own export (usage types, descriptions).
"""

from __future__ import annotations

from typing import Final

from spendscope.generator.catalogue import (
    DAILY,
    METERED,
    STORAGE,
    VM,
    ALL_TEAMS,
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


_EDP = 0.06  # enterprise discount program: every AWS list price minus 6 %


def _ec2(itype: str, price: float, cores: int, mem: float, weight: float,
         teams: tuple[str, ...] = ()) -> ResourceTemplate:
    m = meter("Amazon EC2", f"BoxUsage:{itype}", VM, "Hours", price, (1, 1),
               f"${{price}} per On Demand Linux {itype} Instance Hour", discount=_EDP,
               details=vm_details(itype, cores, mem))
    return ResourceTemplate(f"ec2-{itype}", "Instance", "ec2", (m,), weight, teams=teams, zonal=True, office_ok=True)


def _dt(service: str, usage_type: str, price: float, base: tuple[float, float]) -> Meter:
    return meter(service, usage_type, METERED, "GB", price, base, f"${{price}} per GB - {usage_type}", discount=_EDP)


AWS: Final = Provider(
    key="aws",
    provider_name="AWS",
    publisher_name="AWS",
    invoice_issuer="Amazon Web Services, Inc.",
    currency="USD",
    billing_account_id="284619730517",
    billing_account_name="Acme Commerce",
    billing_account_type="Management Account",
    accounts=(
        Account("284619730517", "acme-management", "Management Account", "prod", ("platform",), 0.2),
        Account("503912847765", "payments-prod", "Linked Account", "prod", ("payments",), 3.0),
        Account("617294038821", "checkout-prod", "Linked Account", "prod", ("checkout",), 3.0),
        Account("738105629943", "search-prod", "Linked Account", "prod", ("search",), 2.0),
        Account("829374610257", "platform-prod", "Linked Account", "prod", ("platform", "data"), 2.0),
        Account("930182746615", "staging", "Linked Account", "staging", ("payments", "checkout", "search", "platform"), 1.5),
        Account("146820395172", "dev-sandbox", "Linked Account", "dev", ALL_TEAMS, 1.0),
    ),
    regions=(
        Region("us-east-1", "US East (N. Virginia)", 1.0, ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d"), "USE1"),
        Region("us-west-2", "US West (Oregon)", 1.0, ("us-west-2a", "us-west-2b", "us-west-2c"), "USW2"),
        Region("eu-west-1", "Europe (Ireland)", 1.114, ("eu-west-1a", "eu-west-1b", "eu-west-1c"), "EU"),
    ),
    templates=(
        _ec2("t3.medium", 0.0416, 2, 4, 2.0),
        _ec2("m6i.large", 0.096, 2, 8, 3.0),
        _ec2("m6i.xlarge", 0.192, 4, 16, 4.0),
        _ec2("m6i.2xlarge", 0.384, 8, 32, 3.0),
        _ec2("c6i.2xlarge", 0.34, 8, 16, 2.5),
        _ec2("r6i.xlarge", 0.252, 4, 32, 2.0),
        _ec2("g5.xlarge", 1.006, 4, 16, 0.4, teams=("ml", "search")),
        ResourceTemplate("ebs-gp3", "Volume", "ebs", (
            meter("Amazon EC2", "EBS:VolumeUsage.gp3", STORAGE, "GB-Months", 0.08, (50, 2000),
               "${price} per GB-month of General Purpose (gp3) provisioned storage", discount=_EDP,
               details=storage_details("gp3")),), 5.0, zonal=True),
        ResourceTemplate("ebs-snapshot", "Snapshot", "snap", (
            meter("Amazon EC2", "EBS:SnapshotUsage", STORAGE, "GB-Months", 0.05, (100, 6000),
               "${price} per GB-Month of snapshot data stored", discount=_EDP),), 2.0),
        ResourceTemplate("s3-bucket", "Bucket", "s3", (
            meter("Amazon S3", "TimedStorage-ByteHrs", STORAGE, "GB-Months", 0.023, (500, 60000),
               "${price} per GB - first 50 TB / month of storage used", discount=_EDP,
               details=storage_details("Standard")),
            meter("Amazon S3", "Requests-Tier1", DAILY, "1000 Requests", 0.005, (20, 3000),
               "${price} per 1,000 PUT, COPY, POST, or LIST requests", consumed="Requests", block=1000, discount=_EDP),
            meter("Amazon S3", "Requests-Tier2", DAILY, "1000 Requests", 0.0004, (200, 40000),
               "${price} per 1,000 GET and all other requests", consumed="Requests", block=1000, discount=_EDP),
        ), 4.0),
        ResourceTemplate("rds-postgres", "DB Instance", "rds", (
            meter("Amazon RDS", "InstanceUsage:db.r6g.xlarge", VM, "Hours", 0.519, (1, 1),
               "${price} per RDS db.r6g.xlarge Single-AZ instance hour running PostgreSQL", discount=_EDP,
               details=vm_details("db.r6g.xlarge", 4, 32)),
            meter("Amazon RDS", "RDS:GP3-Storage", STORAGE, "GB-Months", 0.115, (100, 2000),
               "${price} per GB-month of provisioned gp3 storage running PostgreSQL", discount=_EDP),
        ), 2.5, zonal=True, office_ok=True),
        ResourceTemplate("elasticache", "Cache Node", "elasticache", (
            meter("Amazon ElastiCache", "NodeUsage:cache.r6g.large", VM, "Hours", 0.206, (1, 3),
               "${price} per Redis cache.r6g.large node-hour", discount=_EDP),), 1.5, zonal=True),
        ResourceTemplate("dynamodb-table", "Table", "dynamodb", (
            meter("Amazon DynamoDB", "WriteRequestUnits", METERED, "1000000 Requests", 1.25, (0.02, 1.5),
               "${price} per million write request units", consumed="Requests", block=1_000_000, discount=_EDP),
            meter("Amazon DynamoDB", "ReadRequestUnits", METERED, "1000000 Requests", 0.25, (0.1, 8.0),
               "${price} per million read request units", consumed="Requests", block=1_000_000, discount=_EDP),
        ), 2.0),
        ResourceTemplate("lambda-function", "Function", "lambda", (
            meter("AWS Lambda", "Request", METERED, "1000000 Requests", 0.2, (0.02, 3.0),
               "${price} per 1M requests", consumed="Requests", block=1_000_000, discount=_EDP),
            meter("AWS Lambda", "Lambda-GB-Second", METERED, "GB-Seconds", 0.000017, (2000, 400000),
               "${price} per GB-second", discount=_EDP),
        ), 1.5),
        ResourceTemplate("ecs-service", "Service", "ecs", (
            meter("Amazon ECS", "Fargate-vCPU-Hours:perCPU", METERED, "vCPU-Hours", 0.04048, (4, 96),
               "${price} per hour per vCPU for Linux/X86", discount=_EDP),
            meter("Amazon ECS", "Fargate-GB-Hours", METERED, "GB-Hours", 0.004445, (8, 384),
               "${price} per GB-hour for Linux/X86", discount=_EDP),
        ), 3.0),
        ResourceTemplate("alb", "Load Balancer", "elb", (
            meter("Elastic Load Balancing", "LoadBalancerUsage", VM, "Hours", 0.0225, (1, 1),
               "${price} per Application LoadBalancer-hour (or partial hour)", discount=_EDP),
            meter("Elastic Load Balancing", "LCUUsage", METERED, "LCU-Hours", 0.008, (2, 60),
               "${price} per used Application load balancer capacity unit-hour (or partial hour)", discount=_EDP),
            _dt("AWS Data Transfer", "DataTransfer-Out-Bytes", 0.09, (2, 120)),
        ), 2.5),
        ResourceTemplate("nat-gateway", "NAT Gateway", "nat", (
            meter("Amazon VPC", "NatGateway-Hours", VM, "Hours", 0.045, (1, 1),
               "${price} per NAT Gateway Hour", discount=_EDP),
            meter("Amazon VPC", "NatGateway-Bytes", METERED, "GB", 0.045, (2, 150),
               "${price} per GB Data Processed by NAT Gateways", discount=_EDP),
        ), 1.5),
        ResourceTemplate("cloudfront", "Distribution", "cloudfront", (
            meter("Amazon CloudFront", "US-DataTransfer-Out-Bytes", METERED, "GB", 0.085, (10, 500),
               "${price} per GB - first 10 TB / month data transfer out (United States)", discount=_EDP),
            meter("Amazon CloudFront", "US-Requests-Tier2-HTTPS", METERED, "10000 Requests", 0.01, (10, 2000),
               "${price} per 10,000 HTTPS Requests", consumed="Requests", block=10_000, discount=_EDP),
        ), 1.5, regional=False),
        ResourceTemplate("log-group", "Log Group", "loggroup", (
            meter("Amazon CloudWatch", "DataProcessing-Bytes", DAILY, "GB", 0.5, (2, 120),
               "${price} per GB custom log data ingested", discount=_EDP),
            meter("Amazon CloudWatch", "TimedStorage-ByteHrs", STORAGE, "GB-Months", 0.03, (100, 6000),
               "${price} per GB-mo of log storage", discount=_EDP),
        ), 2.0),
        ResourceTemplate("opensearch", "Domain", "opensearch", (
            meter("Amazon OpenSearch Service", "ESInstance:r6g.large", VM, "Hours", 0.167, (3, 6),
               "${price} per r6g.large.search instance hour", discount=_EDP),), 1.5, teams=("search",)),
        ResourceTemplate("eks-cluster", "Cluster", "eks", (
            meter("Amazon EKS", "AmazonEKS-Hours:perCluster", VM, "Hours", 0.1, (1, 1),
               "${price} per hour per EKS cluster", discount=_EDP),), 0.8, teams=("platform", "ml")),
    ),
    new_services=(
        ResourceTemplate("sagemaker-endpoint", "Endpoint", "sagemaker", (
            meter("Amazon SageMaker", "Hosting:ml.g5.xlarge", VM, "Hours", 1.408, (1, 2),
               "${price} per Hosting ml.g5.xlarge hour", discount=_EDP),), 1.0, teams=("ml",)),
        ResourceTemplate("glue-job", "Job", "glue", (
            meter("AWS Glue", "ETL-DPU-Hour", METERED, "DPU-Hours", 0.44, (2, 40),
               "${price} per DPU-Hour for each Apache Spark or Spark Streaming job", discount=_EDP),), 1.0,
            teams=("data",)),
        ResourceTemplate("bedrock-model", "Model", "bedrock", (
            meter("Amazon Bedrock", "InputTokenCount", METERED, "1000 Tokens", 0.003, (200, 3000),
               "${price} per 1K input tokens", consumed="Tokens", block=1000, discount=_EDP),), 1.0,
            teams=("search", "ml")),
        ResourceTemplate("redshift-cluster", "Cluster", "redshift", (
            meter("Amazon Redshift", "Node:ra3.xlplus", VM, "Hours", 1.086, (2, 4),
               "${price} per RA3 XLPlus Node Hour", discount=_EDP),), 1.0, teams=("data",)),
        ResourceTemplate("kinesis-stream", "Stream", "kinesis", (
            meter("Amazon Kinesis", "Storage-ShardHour", VM, "Hours", 0.015, (4, 40),
               "${price} per shard hour", discount=_EDP),), 1.0, teams=("data", "platform")),
    ),
    commitment=CommitmentSpec(
        template="ec2-m6i.xlarge", region="us-east-1", type="Reserved Instance",
        name="m6i.xlarge Linux/UNIX us-east-1 1yr No Upfront",
        id_format="arn:aws:ec2:{region}:{acct}:reserved-instances/{uid}", rate_factor=0.62,
        purchase_meter="HeavyUsage:m6i.xlarge", owner_account=0,
    ),
    row_share=0.5,
    tax_rate=0.0625,
    credit=("Amazon EC2", "AWS Migration Acceleration Program credit", 0.05),
    support="AWS Support (Business)",
    upper_case_faults=True,
)
