-- expect: migration.mysql_not_null_without_default@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers ADD COLUMN tier INT NOT NULL;
