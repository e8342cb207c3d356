-- Staging: move the checked rows of one load into billing, inside the load's transaction (after the
-- units they replace were deleted by ledger/replace_unit.sql).
INSERT INTO billing BY NAME SELECT * FROM billing_staging
