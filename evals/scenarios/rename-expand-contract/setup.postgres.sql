CREATE TABLE customers (id bigint PRIMARY KEY, mail text NOT NULL, loyalty_points integer NOT NULL DEFAULT 0);
INSERT INTO customers SELECT g, 'c' || g || '@example.com', g % 1000 FROM generate_series(1, 200000) g;
ANALYZE;
