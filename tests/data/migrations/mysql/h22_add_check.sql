-- expect: migration.mysql_blocking_alter@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders ADD CONSTRAINT ck_orders_quantity CHECK (quantity > 0);
