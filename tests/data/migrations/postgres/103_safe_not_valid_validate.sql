-- case: ADD FOREIGN KEY NOT VALID, then VALIDATE separately
-- expect: none

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fkey;
