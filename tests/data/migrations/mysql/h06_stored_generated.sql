-- expect: migration.mysql_stored_generated_column@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders
  ADD COLUMN quantity_x100 BIGINT AS (quantity * 100) STORED;
