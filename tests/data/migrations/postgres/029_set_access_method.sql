-- case: SET ACCESS METHOD
-- expect: migration.set_access_method@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
ALTER TABLE audit_log SET ACCESS METHOD heap;
