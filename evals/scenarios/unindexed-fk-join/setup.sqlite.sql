CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100000)
INSERT INTO orders SELECT g, 1 + g % 5000, datetime('now', '-' || g || ' minutes') FROM s;
CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    price NUMERIC NOT NULL
);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 400000)
INSERT INTO order_items SELECT g, 1 + (g - 1) / 4, 1 + g % 900, 1 + g % 3, (g % 300) + 0.99 FROM s;
ANALYZE;
