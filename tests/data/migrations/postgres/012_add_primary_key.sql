-- case: ADD PRIMARY KEY on an existing table
-- expect: migration.add_primary_key@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE audit_log ADD PRIMARY KEY (id);
