-- case: Foreign key NOT VALID + VALIDATE on columns an existing index covers
-- current: CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);
-- current: CREATE INDEX orders_customer_created_idx ON orders (customer_id, id);
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fkey;
