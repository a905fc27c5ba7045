-- case: RENAME TABLE
-- expect: migration.rename_table@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE order_items RENAME TO order_lines;
