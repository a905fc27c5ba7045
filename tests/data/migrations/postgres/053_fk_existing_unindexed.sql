-- case: Foreign key (NOT VALID, validated apart) on a table whose columns have no index
-- current: CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
-- expect: migration.foreign_key_without_index@7

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fkey;
