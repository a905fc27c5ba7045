ALTER TABLE customers RENAME COLUMN mail TO email;
ALTER TABLE customers MODIFY COLUMN loyalty_points bigint NOT NULL DEFAULT 0;
