-- case: NOT VALID and VALIDATE in the same transaction
-- expect: migration.validate_in_same_transaction@8

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE orders ADD CONSTRAINT orders_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fkey;
COMMIT;
