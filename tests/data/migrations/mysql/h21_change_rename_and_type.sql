-- expect: migration.mysql_column_type_change@3, migration.mysql_rename@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers CHANGE COLUMN score points BIGINT NOT NULL;
