-- case: CREATE INDEX without CONCURRENTLY on an existing table
-- expect: migration.create_index_not_concurrently@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
CREATE INDEX orders_customer_idx ON orders (customer_id);
