CREATE TABLE accounts (id bigint PRIMARY KEY, email text, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO accounts SELECT g, 'a' || g || '@example.com', now() FROM generate_series(1, 20000) g;
CREATE TABLE invoices (id bigint PRIMARY KEY, account_id bigint NOT NULL, amount numeric(12, 2) NOT NULL, issued_at timestamptz NOT NULL);
INSERT INTO invoices SELECT g, 1 + g % 20000, g % 997, now() - g * interval '1 minute' FROM generate_series(1, 300000) g;
ANALYZE;
