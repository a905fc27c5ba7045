-- case: Flyway file holding only a concurrent build (Flyway runs it outside a transaction)
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_idx ON orders (status);
