CREATE TABLE products (
    id bigint PRIMARY KEY,
    sku text NOT NULL,
    category_id integer NOT NULL,
    price numeric(10, 2) NOT NULL,
    name text NOT NULL
);
INSERT INTO products SELECT g, 'SKU-' || g, 1 + g % 200, (g % 1000) + 0.5, 'product ' || g FROM generate_series(1, 100000) g;
CREATE UNIQUE INDEX products_sku_key ON products (sku);
CREATE INDEX products_sku_copy ON products (sku);
CREATE INDEX products_category ON products (category_id);
CREATE INDEX products_category_price ON products (category_id, price);
ANALYZE;
