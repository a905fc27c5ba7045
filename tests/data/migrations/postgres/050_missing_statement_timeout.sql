-- case: A validating scan with lock_timeout but no statement_timeout
-- expect: migration.add_check_constraint@6
-- expect: migration.missing_statement_timeout@6

SET lock_timeout = '2s';
ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);
