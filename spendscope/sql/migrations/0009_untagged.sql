-- Migration 9: stored tag-compliance results (spendscope.analysis.untagged.run_untagged), so the
-- exporters, the report and the API read them instead of scanning billing per request.
-- untagged_daily grain: (billing_period_start, day, SubAccountId, ServiceName, currency, status) of
-- the latest run of that billing period; status is tagged / untagged / mistagged / untaggable under
-- the tag policy of that run. EffectiveCost per BillingCurrency, never converted.
CREATE TABLE untagged_daily (
    billing_period_start TIMESTAMPTZ,
    day DATE,
    SubAccountId VARCHAR,
    ServiceName VARCHAR,
    currency VARCHAR,
    status VARCHAR NOT NULL,
    EffectiveCost DECIMAL(38, 12),
    run_id BIGINT NOT NULL
);

-- The resources with the most noncompliant (untagged + mistagged) cost, per period and currency.
CREATE TABLE untagged_resources (
    billing_period_start TIMESTAMPTZ,
    currency VARCHAR,
    ResourceId VARCHAR,
    noncompliant_cost DECIMAL(38, 12),
    SubAccountIds VARCHAR[],
    ServiceNames VARCHAR[],
    statuses VARCHAR[],
    rank INTEGER NOT NULL,
    run_id BIGINT NOT NULL
);
