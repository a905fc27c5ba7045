-- expect: none
DELETE FROM audit_log WHERE created_at < '2021-01-01' ORDER BY id LIMIT 5000;
