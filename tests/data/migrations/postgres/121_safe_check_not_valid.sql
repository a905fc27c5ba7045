-- case: CHECK NOT VALID then VALIDATE in separate transactions
-- expect: none

BEGIN;
SET LOCAL lock_timeout = '2s';
ALTER TABLE order_items ADD CONSTRAINT quantity_positive CHECK (quantity > 0) NOT VALID;
COMMIT;
BEGIN;
ALTER TABLE order_items VALIDATE CONSTRAINT quantity_positive;
COMMIT;
