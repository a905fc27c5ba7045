ALTER TABLE invoices ADD COLUMN currency text NOT NULL;
CREATE INDEX invoices_issued_at_idx ON invoices (issued_at);
ALTER TABLE invoices ADD CONSTRAINT invoices_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
