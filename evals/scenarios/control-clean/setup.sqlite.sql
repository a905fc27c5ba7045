CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    total NUMERIC NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT
);
CREATE INDEX idx_orders_customer_id_created_at ON orders (customer_id, created_at);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 20000)
INSERT INTO customers SELECT g, 'c' || g || '@example.com', datetime('now', '-' || g || ' minutes') FROM s;
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 200000)
INSERT INTO orders SELECT g, 1 + (g * 7919) % 20000, CASE g % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'done' END, (g % 5000) / 10.0, datetime('now', '-' || (g * 10) || ' seconds') FROM s;
ANALYZE;
