-- case: ADD COLUMN with a stable default (now()) on PostgreSQL 11+
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD COLUMN imported_at timestamptz NOT NULL DEFAULT now();
