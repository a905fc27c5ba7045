-- expect: migration.unparsable@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders ADD;
