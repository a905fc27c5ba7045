-- expect: migration.mysql_rename@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers RENAME COLUMN email TO email_address;
