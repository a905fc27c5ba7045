-- expect: migration.mysql_foreign_key_copy@3
SET SESSION lock_wait_timeout = 5;
ALTER TABLE orders ADD CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id);
