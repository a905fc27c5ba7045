-- expect: none
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders ADD COLUMN gift_wrap TINYINT NULL, ALGORITHM=INSTANT;
