-- case: ADD COLUMN serial PRIMARY KEY (squawk: adding-serial-primary-key-field)
-- expect: migration.add_column_volatile_default@8
-- expect: migration.add_primary_key@8
-- expect: migration.int_primary_key@8

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE audit_log ADD COLUMN id serial PRIMARY KEY;
