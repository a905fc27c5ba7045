CREATE ROLE {{run}}_web LOGIN CREATEROLE PASSWORD 'Web-Pass-2026!';
CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE payments (id bigint PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), amount numeric(12, 2) NOT NULL);
CREATE INDEX payments_customer_id_idx ON payments (customer_id);
ALTER TABLE customers OWNER TO {{run}}_web;
ALTER TABLE payments OWNER TO {{run}}_web;
INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 1000) g;
