-- expect: migration.mysql_column_type_change@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers MODIFY COLUMN name VARCHAR(100) NOT NULL DEFAULT '';
