-- case: CREATE INDEX CONCURRENTLY outside a transaction
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_idx ON orders (customer_id);
