CREATE TABLE devices (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE sessions (id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices (id), started_at TEXT NOT NULL);
CREATE TABLE sync_events (session_id INTEGER NOT NULL REFERENCES sessions (id), kind TEXT NOT NULL, at TEXT NOT NULL);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100)
INSERT INTO devices SELECT g, 'device ' || g FROM s;
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 10000)
INSERT INTO sessions SELECT g, 1 + g % 100, datetime('now', '-' || g || ' minutes') FROM s;
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100000)
INSERT INTO sync_events SELECT 1 + g % 10000, 'edit', datetime('now', '-' || g || ' seconds') FROM s;
ANALYZE;
