-- expect: migration.mysql_rename@3
SET SESSION lock_wait_timeout = 5;
RENAME TABLE audit_log TO audit_events;
