-- case: SET UNLOGGED / SET LOGGED
-- expect: migration.set_logged@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE import_staging SET LOGGED;
