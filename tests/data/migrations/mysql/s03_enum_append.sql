-- expect: none
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders MODIFY COLUMN status ENUM('new','paid','shipped','returned') NOT NULL DEFAULT 'new', ALGORITHM=INSTANT;
