-- case: ADD COLUMN ... GENERATED ALWAYS AS (...) STORED
-- expect: migration.add_column_volatile_default@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE order_items
    ADD COLUMN line_total numeric GENERATED ALWAYS AS (quantity * unit_price) STORED;
