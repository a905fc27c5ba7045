-- expect: none
SET SESSION lock_wait_timeout = 5;
ALTER TABLE customers MODIFY COLUMN name VARCHAR(60) NOT NULL DEFAULT '', ALGORITHM=INSTANT;
