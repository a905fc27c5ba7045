ALTER TABLE invoices MODIFY COLUMN amount decimal(14, 2) NOT NULL;
ALTER TABLE invoices DROP COLUMN legacy_code;
UPDATE invoices SET note = 'migrated' WHERE note IS NULL;
