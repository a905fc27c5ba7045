-- case: DROP DATABASE
-- expect: migration.drop_database@4

DROP DATABASE reporting;
