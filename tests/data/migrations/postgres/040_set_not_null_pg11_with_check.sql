-- case: SET NOT NULL on PostgreSQL 11 cannot use a validated CHECK
-- server-version: 11
-- expect: migration.set_not_null@9

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD CONSTRAINT shipped_at_not_null CHECK (shipped_at IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT shipped_at_not_null;
ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
