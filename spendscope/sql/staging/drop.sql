-- Staging: drop the staging table (after a load, and at open in case a killed load left it).
DROP TABLE IF EXISTS billing_staging
