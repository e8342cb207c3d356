-- Migration 6: month-end forecasts and budget status (spendscope.analysis.forecast.run_forecast).
-- forecasts grain: one row per (made_on, period, scope, scope_value, currency). made_on is the date
-- the forecast was made (as_of: only allocated_daily days before it were used); period is the first
-- day of the calendar month forecast. A run replaces only the rows of its own (made_on, period), so
-- forecasts made on other days are kept and their accuracy can be measured once the month is complete.
-- scope: total (scope_value NULL), team, account (SubAccountId) or service (ServiceName).
-- Money is EffectiveCost per currency, never converted: mtd_actual is the sum of the period's days
-- before made_on; point / lo80 / hi80 / lo95 / hi95 are month-end totals (mtd_actual + forecast of
-- the remaining days + month-level charges not yet booked, carried from the previous month).
-- model names the model fitted (and a fallback with its reason); history_days the days it saw.
CREATE TABLE forecasts (
    made_on DATE NOT NULL,
    period DATE NOT NULL,
    scope VARCHAR NOT NULL,
    scope_value VARCHAR,
    currency VARCHAR NOT NULL,
    days_elapsed INTEGER NOT NULL,
    days_in_period INTEGER NOT NULL,
    mtd_actual DECIMAL(38, 12) NOT NULL,
    month_level_expected DECIMAL(38, 12),
    month_level_booked DECIMAL(38, 12),
    point DECIMAL(38, 12) NOT NULL,
    lo80 DECIMAL(38, 12) NOT NULL,
    hi80 DECIMAL(38, 12) NOT NULL,
    lo95 DECIMAL(38, 12) NOT NULL,
    hi95 DECIMAL(38, 12) NOT NULL,
    seasonal_share DOUBLE,
    model VARCHAR NOT NULL,
    history_days INTEGER NOT NULL,
    run_id BIGINT NOT NULL
);

-- budget_status grain: one row per configured budget effective in the period, of the latest run
-- (a run replaces every row). Money in the budget's currency, which is the data's (never converted).
-- linear_pace = amount × days_elapsed / days_in_period; seasonal_pace = amount × the model's expected
-- share of the month spent by made_on; burn_ratio = mtd_actual / linear_pace; exhaustion_date = first
-- day cumulative actual + forecast reaches amount (NULL: not this month). status: over (mtd_actual >
-- amount), at_risk (forecast point > amount), ok, or no_data (no spend in scope before made_on).
CREATE TABLE budget_status (
    name VARCHAR NOT NULL,
    made_on DATE NOT NULL,
    period DATE NOT NULL,
    scope VARCHAR NOT NULL,
    scope_value VARCHAR,
    currency VARCHAR NOT NULL,
    amount DECIMAL(38, 12) NOT NULL,
    days_elapsed INTEGER NOT NULL,
    days_in_period INTEGER NOT NULL,
    mtd_actual DECIMAL(38, 12) NOT NULL,
    linear_pace DECIMAL(38, 12) NOT NULL,
    seasonal_pace DECIMAL(38, 12),
    burn_ratio DOUBLE,
    seasonal_burn_ratio DOUBLE,
    forecast_point DECIMAL(38, 12),
    forecast_lo80 DECIMAL(38, 12),
    forecast_hi80 DECIMAL(38, 12),
    forecast_lo95 DECIMAL(38, 12),
    forecast_hi95 DECIMAL(38, 12),
    exhaustion_date DATE,
    status VARCHAR NOT NULL,
    run_id BIGINT NOT NULL
);
