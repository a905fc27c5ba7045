-- case: DROP TABLE
-- expect: migration.drop_table@6

SET lock_timeout = '2s';
SET statement_timeout = '15min';
DROP TABLE legacy_sessions;
