-- case: Rename and drop tables created earlier in the same migration
-- expect: none

CREATE TABLE tmp_import (id bigint PRIMARY KEY, payload jsonb);
ALTER TABLE tmp_import RENAME TO imports;
ALTER TABLE imports RENAME COLUMN payload TO body;
DROP TABLE imports;
