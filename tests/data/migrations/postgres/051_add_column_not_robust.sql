-- case: ADD COLUMN without IF NOT EXISTS outside a transaction
-- expect: migration.prefer_robust_statements@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN referrer text;
