CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at timestamptz NOT NULL);
INSERT INTO orders SELECT g, 1 + g % 5000, now() - g * interval '1 minute' FROM generate_series(1, 100000) g;
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE TABLE order_items (
    id bigint PRIMARY KEY,
    order_id bigint NOT NULL,
    product_id bigint NOT NULL,
    quantity integer NOT NULL,
    price numeric(10, 2) NOT NULL
);
INSERT INTO order_items SELECT g, 1 + (g - 1) / 4, 1 + g % 900, 1 + g % 3, (g % 300) + 0.99 FROM generate_series(1, 400000) g;
-- the foreign key is added after the load: one validating scan instead of a trigger per row
ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE;
ANALYZE;
