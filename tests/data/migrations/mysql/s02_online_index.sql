-- expect: none
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders ADD INDEX ix_orders_status (status), ALGORITHM=INPLACE, LOCK=NONE;
