-- Staging: drop the staging table after a load, releasing its memory and spilled blocks.
DROP TABLE IF EXISTS temp.billing_staging
