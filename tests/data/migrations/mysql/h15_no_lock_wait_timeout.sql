-- expect: migration.mysql_lock_wait_timeout@2
ALTER TABLE orders ADD COLUMN gift_note VARCHAR(20) NULL, ALGORITHM=INSTANT;
