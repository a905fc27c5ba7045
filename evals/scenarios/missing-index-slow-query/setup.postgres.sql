CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, created_at timestamptz NOT NULL);
INSERT INTO customers SELECT g, 'c' || g || '@example.com', now() - g * interval '1 minute' FROM generate_series(1, 20000) g;
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    status text NOT NULL,
    total numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL
);
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % 20000, (ARRAY['new', 'paid', 'shipped', 'done'])[1 + g % 4], (g % 5000) / 10.0, now() - g * interval '10 seconds' FROM generate_series(1, 300000) g;
ANALYZE;
