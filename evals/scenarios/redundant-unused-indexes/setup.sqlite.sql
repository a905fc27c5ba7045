CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL,
    category_id INTEGER NOT NULL,
    price NUMERIC NOT NULL,
    name TEXT NOT NULL
);
WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100000)
INSERT INTO products SELECT g, 'SKU-' || g, 1 + g % 200, (g % 1000) + 0.5, 'product ' || g FROM s;
CREATE UNIQUE INDEX products_sku_key ON products (sku);
CREATE INDEX products_sku_copy ON products (sku);
CREATE INDEX products_category ON products (category_id);
CREATE INDEX products_category_price ON products (category_id, price);
ANALYZE;
