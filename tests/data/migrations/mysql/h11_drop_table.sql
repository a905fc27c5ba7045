-- expect: migration.mysql_drop_table@3
SET SESSION lock_wait_timeout = 5;
DROP TABLE audit_log;
