CREATE TABLE customers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE TABLE orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text NOT NULL,
    total numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (email, created_at) SELECT 'c' || g || '@example.com', now() - g * interval '1 minute' FROM generate_series(1, 20000) g;
INSERT INTO orders (customer_id, status, total, created_at) SELECT 1 + (g::bigint * 7919) % 20000, (ARRAY['new', 'paid', 'shipped', 'done'])[1 + g % 4], (g % 5000) / 10.0, now() - g * interval '10 seconds' FROM generate_series(1, 200000) g;
-- index and foreign key after the load: one pass each instead of per-row work
CREATE INDEX idx_orders_customer_id_created_at ON orders (customer_id, created_at);
ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT;
ANALYZE;
