-- expect: migration.mysql_enum_reorder@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders MODIFY COLUMN status ENUM('new','packed','paid','shipped') NOT NULL DEFAULT 'new';
