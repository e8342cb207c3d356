-- Migration 7: commitment utilization and coverage (spendscope.analysis.commitments), the reporting
-- currency's FX rates (spendscope.analysis.fx), and reporting-currency columns beside the original
-- money of allocated_daily. Original money stays in BillingCurrency; every money column X of these
-- tables has X_reporting beside it: the same figure in reporting_currency (NULL when none is configured).
-- Period-grain figures (the commitment tables) convert at the rate of the billing period's first day.

-- The FX rates of the latest analysis run: 1 unit of `currency` = `rate` units of reporting_currency
-- from effective_from (a day uses the latest rate with effective_from <= day). Grain: one row per
-- (currency, effective_from). Always holds the identity row (reporting_currency, rate 1, 0001-01-01)
-- when a reporting currency is configured; empty when none is.
CREATE TABLE fx_rates (
    reporting_currency VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    rate DECIMAL(38, 12) NOT NULL,
    effective_from DATE NOT NULL,
    source VARCHAR,
    run_id BIGINT NOT NULL
);

-- Utilization of each commitment discount (RI, savings plan, reservation, CUD) in a billing period.
-- Grain: (billing_period_start, ProviderName, CommitmentDiscountId, BillingCurrency) of the latest run
-- of that period. basis says how utilization was measured: 'quantity' (CommitmentDiscountQuantity of
-- Used / Unused rows, one unit), 'cost' (EffectiveCost of Used / Unused rows), 'purchase_quantity'
-- (no amortization in the export: used quantity / the Purchase rows' quantity), 'none' (unknown).
CREATE TABLE commitment_utilization (
    billing_period_start TIMESTAMPTZ,
    ProviderName VARCHAR,
    BillingAccountId VARCHAR,
    SubAccountId VARCHAR,
    RegionId VARCHAR,
    ServiceName VARCHAR,
    CommitmentDiscountId VARCHAR NOT NULL,
    CommitmentDiscountName VARCHAR,
    CommitmentDiscountType VARCHAR,
    CommitmentDiscountCategory VARCHAR,
    CommitmentDiscountUnit VARCHAR,
    BillingCurrency VARCHAR,
    purchase_cost DECIMAL(38, 12),
    committed_cost DECIMAL(38, 12),
    used_cost DECIMAL(38, 12),
    unused_cost DECIMAL(38, 12),
    committed_quantity DECIMAL(38, 12),
    used_quantity DECIMAL(38, 12),
    unused_quantity DECIMAL(38, 12),
    basis VARCHAR NOT NULL,
    utilization DOUBLE,
    unused_commitment_cost DECIMAL(38, 12),
    covered_on_demand_cost DECIMAL(38, 12),
    net_savings DECIMAL(38, 12),
    reporting_currency VARCHAR,
    purchase_cost_reporting DECIMAL(38, 12),
    committed_cost_reporting DECIMAL(38, 12),
    used_cost_reporting DECIMAL(38, 12),
    unused_cost_reporting DECIMAL(38, 12),
    unused_commitment_cost_reporting DECIMAL(38, 12),
    covered_on_demand_cost_reporting DECIMAL(38, 12),
    net_savings_reporting DECIMAL(38, 12),
    run_id BIGINT NOT NULL
);

-- Commitment coverage of eligible usage. Grain: (billing_period_start, ProviderName, BillingAccountId,
-- SubAccountId, RegionId, ServiceName, BillingCurrency) of the latest run of that period. Eligible:
-- Usage rows (not Unused commitment rows) whose (provider, ServiceName, ResourceType) had
-- commitment-covered (Used) usage in the same billing period. On-demand equivalent: ListCost, or
-- ContractedCost where ListCost is NULL.
CREATE TABLE commitment_coverage (
    billing_period_start TIMESTAMPTZ,
    ProviderName VARCHAR,
    BillingAccountId VARCHAR,
    SubAccountId VARCHAR,
    RegionId VARCHAR,
    ServiceName VARCHAR,
    BillingCurrency VARCHAR,
    eligible_on_demand_cost DECIMAL(38, 12),
    covered_on_demand_cost DECIMAL(38, 12),
    uncovered_on_demand_cost DECIMAL(38, 12),
    coverage DOUBLE,
    eligible_effective_cost DECIMAL(38, 12),
    unused_commitment_cost DECIMAL(38, 12),
    reporting_currency VARCHAR,
    eligible_on_demand_cost_reporting DECIMAL(38, 12),
    covered_on_demand_cost_reporting DECIMAL(38, 12),
    uncovered_on_demand_cost_reporting DECIMAL(38, 12),
    eligible_effective_cost_reporting DECIMAL(38, 12),
    unused_commitment_cost_reporting DECIMAL(38, 12),
    run_id BIGINT NOT NULL
);

-- allocated_daily: BilledCost and EffectiveCost in the reporting currency, at the rate of the row's day.
ALTER TABLE allocated_daily ADD COLUMN reporting_currency VARCHAR;
ALTER TABLE allocated_daily ADD COLUMN BilledCost_reporting DECIMAL(38, 12);
ALTER TABLE allocated_daily ADD COLUMN EffectiveCost_reporting DECIMAL(38, 12);
