-- expect: migration.mysql_column_type_change@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders MODIFY COLUMN quantity BIGINT NOT NULL DEFAULT 1;
