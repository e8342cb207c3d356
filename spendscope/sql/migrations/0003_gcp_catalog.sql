-- Migration 3: a cache of Google Cloud list prices from the Cloud Billing Catalog API
-- (services.skus.list), so a billing load can fill ListUnitPrice / ListCost where the export lacks them.
-- Grain: one row per (service_id, sku_id, pricing_unit, currency, tier_start_amount) of the latest fetch;
-- a refresh replaces a service's rows for that currency in one transaction (warehouse.catalog).
-- unit_price is the list price of one pricing_unit (catalog usageUnit, e.g. 'h', 'GiBy.mo') for usage
-- from tier_start_amount up to the next tier's start. fetched_at drives the refresh interval.
CREATE TABLE gcp_sku_prices (
    service_id VARCHAR NOT NULL,
    service_name VARCHAR,
    sku_id VARCHAR NOT NULL,
    sku_description VARCHAR,
    resource_family VARCHAR,
    resource_group VARCHAR,
    usage_type VARCHAR,
    service_regions JSON,
    pricing_unit VARCHAR NOT NULL,
    pricing_unit_description VARCHAR,
    tier_start_amount DECIMAL(38, 12) NOT NULL,
    unit_price DECIMAL(38, 12) NOT NULL,
    currency VARCHAR NOT NULL,
    effective_time TIMESTAMPTZ,
    fetched_at TIMESTAMPTZ NOT NULL
);
