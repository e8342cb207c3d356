-- Migration 1: the warehouse as the foundation designs it.
-- Grain: billing = one FOCUS cost-and-usage row; ingests = one load unit (source, billing period)
-- per load; ingest_totals = one (load unit, BillingCurrency).
-- No primary keys on tables that are updated (DuckDB checks them eagerly); `spendscope doctor`
-- and sql/checks/ enforce uniqueness instead.

CREATE TABLE schema_version (
    version INTEGER NOT NULL,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE SEQUENCE ingest_id_seq START 1;

-- FOCUS 1.2 columns (spec order), FOCUS 1.3 additions, provider extensions (x_), lineage.
-- Money, prices and quantities DECIMAL(38, 12); timestamps TIMESTAMPTZ (UTC); key-value JSON.
CREATE TABLE billing (
    AvailabilityZone VARCHAR,
    BilledCost DECIMAL(38, 12),
    BillingAccountId VARCHAR,
    BillingAccountName VARCHAR,
    BillingAccountType VARCHAR,
    BillingCurrency VARCHAR,
    BillingPeriodEnd TIMESTAMPTZ,
    BillingPeriodStart TIMESTAMPTZ,
    CapacityReservationId VARCHAR,
    CapacityReservationStatus VARCHAR,
    ChargeCategory VARCHAR,
    ChargeClass VARCHAR,
    ChargeDescription VARCHAR,
    ChargeFrequency VARCHAR,
    ChargePeriodEnd TIMESTAMPTZ,
    ChargePeriodStart TIMESTAMPTZ,
    CommitmentDiscountCategory VARCHAR,
    CommitmentDiscountId VARCHAR,
    CommitmentDiscountName VARCHAR,
    CommitmentDiscountQuantity DECIMAL(38, 12),
    CommitmentDiscountStatus VARCHAR,
    CommitmentDiscountType VARCHAR,
    CommitmentDiscountUnit VARCHAR,
    ConsumedQuantity DECIMAL(38, 12),
    ConsumedUnit VARCHAR,
    ContractedCost DECIMAL(38, 12),
    ContractedUnitPrice DECIMAL(38, 12),
    EffectiveCost DECIMAL(38, 12),
    InvoiceId VARCHAR,
    InvoiceIssuerName VARCHAR,
    ListCost DECIMAL(38, 12),
    ListUnitPrice DECIMAL(38, 12),
    PricingCategory VARCHAR,
    PricingCurrency VARCHAR,
    PricingCurrencyContractedUnitPrice DECIMAL(38, 12),
    PricingCurrencyEffectiveCost DECIMAL(38, 12),
    PricingCurrencyListUnitPrice DECIMAL(38, 12),
    PricingQuantity DECIMAL(38, 12),
    PricingUnit VARCHAR,
    ProviderName VARCHAR,
    PublisherName VARCHAR,
    RegionId VARCHAR,
    RegionName VARCHAR,
    ResourceId VARCHAR,
    ResourceName VARCHAR,
    ResourceType VARCHAR,
    ServiceCategory VARCHAR,
    ServiceName VARCHAR,
    ServiceSubcategory VARCHAR,
    SkuId VARCHAR,
    SkuMeter VARCHAR,
    SkuPriceDetails JSON,
    SkuPriceId VARCHAR,
    SubAccountId VARCHAR,
    SubAccountName VARCHAR,
    SubAccountType VARCHAR,
    Tags JSON,
    AllocatedMethodDetails JSON,
    AllocatedMethodId VARCHAR,
    AllocatedResourceId VARCHAR,
    AllocatedResourceName VARCHAR,
    AllocatedTags JSON,
    ContractApplied JSON,
    HostProviderName VARCHAR,
    ServiceProviderName VARCHAR,
    x_ResourceGroupName VARCHAR,
    x_UsageType VARCHAR,
    x_Operation VARCHAR,
    x_CostType VARCHAR,
    x_Estimated BOOLEAN,
    x_Extensions JSON,
    x_IngestId BIGINT NOT NULL,
    x_SourceFile VARCHAR NOT NULL
);

-- The ledger. One row per load unit: (source, billing period) of one load (ingest_id).
-- status: loaded (current), replaced (a later load of the same unit superseded it; replaced_by
-- names it), failed (billing_period_start may be NULL; nothing of it is in billing).
CREATE TABLE ingests (
    ingest_id BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    collector VARCHAR NOT NULL,
    provider VARCHAR,
    billing_period_start TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    files JSON,
    fileset_sha256 VARCHAR,
    row_count BIGINT,
    focus_version VARCHAR,
    deviations JSON,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    replaces BIGINT,
    replaced_by BIGINT,
    error VARCHAR
);

CREATE TABLE ingest_totals (
    ingest_id BIGINT NOT NULL,
    billing_period_start TIMESTAMPTZ NOT NULL,
    BillingCurrency VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    BilledCost DECIMAL(38, 12) NOT NULL,
    EffectiveCost DECIMAL(38, 12) NOT NULL
);

-- ISO 4217 codes, filled from pycountry when the warehouse opens (see warehouse/db.py).
CREATE TABLE currencies (
    code VARCHAR NOT NULL,
    name VARCHAR
);

-- FOCUS allowed values, filled from spendscope.focus when the warehouse opens.
CREATE TABLE focus_allowed_values (
    column_name VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

-- Resources seen by inventory collectors; one row per resource per observation (history kept).
CREATE TABLE inventory (
    provider VARCHAR NOT NULL,
    account_id VARCHAR,
    region VARCHAR,
    resource_id VARCHAR NOT NULL,
    resource_type VARCHAR NOT NULL,
    state VARCHAR,
    attached_to VARCHAR,
    created_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    size DECIMAL(38, 6),
    size_unit VARCHAR,
    tags JSON,
    details JSON,
    source VARCHAR NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL
);

-- Unit-cost denominators: transactions (requests, orders, ...) per service per time bucket.
CREATE TABLE transactions (
    service VARCHAR NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    window_end TIMESTAMPTZ NOT NULL,
    count DECIMAL(38, 6) NOT NULL,
    source VARCHAR NOT NULL,
    ingest_id BIGINT
);

-- One analysis run; its results are replaced atomically by the next run.
CREATE SEQUENCE analysis_run_seq START 1;
CREATE TABLE analysis_runs (
    run_id BIGINT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    status VARCHAR NOT NULL,
    error VARCHAR
);

-- Untagged / orphan / anomaly results, each with a fingerprint that is stable across runs.
CREATE TABLE findings (
    fingerprint VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    run_id BIGINT NOT NULL,
    provider VARCHAR,
    account_id VARCHAR,
    region VARCHAR,
    resource_id VARCHAR,
    dimensions JSON,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    monthly_cost DECIMAL(38, 12),
    currency VARCHAR,
    severity VARCHAR,
    details JSON
);

-- Tickets opened for findings, for de-duplication across runs.
CREATE TABLE tickets (
    sink VARCHAR NOT NULL,
    group_key VARCHAR NOT NULL,
    external_id VARCHAR,
    url VARCHAR,
    status VARCHAR NOT NULL,
    fingerprints JSON,
    payload_sha256 VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ
);
