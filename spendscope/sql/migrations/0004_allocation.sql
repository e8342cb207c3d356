-- Migration 4: cost allocation results (spendscope.analysis.allocation).
-- Grain: one row per (billing_period_start, day, provider, account, sub_account, service,
-- service_category, region, team, environment, currency, shared) of the latest allocation run of
-- that billing period; a run replaces its periods' rows in one transaction.
-- day: UTC date of ChargePeriodStart. team / environment: resolved by the allocation rules, never
-- NULL ('unallocated' when nothing matched). shared: the row came from a shared-cost split.
-- Money per currency (BillingCurrency), never converted.
CREATE TABLE allocated_daily (
    billing_period_start TIMESTAMPTZ,
    day DATE,
    provider VARCHAR,
    account VARCHAR,
    sub_account VARCHAR,
    service VARCHAR,
    service_category VARCHAR,
    region VARCHAR,
    team VARCHAR NOT NULL,
    environment VARCHAR NOT NULL,
    currency VARCHAR,
    BilledCost DECIMAL(38, 12),
    EffectiveCost DECIMAL(38, 12),
    shared BOOLEAN NOT NULL,
    run_id BIGINT NOT NULL
);
