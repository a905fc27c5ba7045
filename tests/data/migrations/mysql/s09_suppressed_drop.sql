-- expect: none
-- suppressed: migration.mysql_drop_column@5
SET SESSION lock_wait_timeout = 5;
-- dbsage: ignore migration.mysql_drop_column
ALTER TABLE customers DROP COLUMN legacy_code, ALGORITHM=INSTANT;
