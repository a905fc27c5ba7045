-- expect: none
SET STATEMENT lock_wait_timeout = 5 FOR ALTER TABLE orders ADD COLUMN channel VARCHAR(10) NULL, ALGORITHM=INSTANT;
