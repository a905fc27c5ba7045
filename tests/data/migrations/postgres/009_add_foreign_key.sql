-- case: ADD FOREIGN KEY without NOT VALID
-- expect: migration.add_foreign_key@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE orders
    ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (customer_id) REFERENCES customers (id);
