ALTER TABLE customers RENAME COLUMN mail TO email;
ALTER TABLE customers ALTER COLUMN loyalty_points TYPE bigint;
