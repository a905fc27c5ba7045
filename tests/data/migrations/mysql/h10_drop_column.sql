-- expect: migration.mysql_drop_column@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers DROP COLUMN legacy_code;
