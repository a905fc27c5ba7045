-- case: ADD CHECK without NOT VALID
-- expect: migration.add_check_constraint@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE order_items ADD CONSTRAINT quantity_positive CHECK (quantity > 0);
