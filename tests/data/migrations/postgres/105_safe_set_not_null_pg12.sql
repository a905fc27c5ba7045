-- case: SET NOT NULL after a validated CHECK (c IS NOT NULL), PostgreSQL 12+
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD CONSTRAINT shipped_at_not_null CHECK (shipped_at IS NOT NULL) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT shipped_at_not_null;
ALTER TABLE orders ALTER COLUMN shipped_at SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT shipped_at_not_null;
