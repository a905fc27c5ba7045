-- case: ADD COLUMN NOT NULL with a constant default on PostgreSQL 11+
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN channel text NOT NULL DEFAULT 'web';
