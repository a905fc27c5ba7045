-- case: TRUNCATE ... CASCADE
-- expect: migration.truncate_cascade@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
TRUNCATE customers CASCADE;
