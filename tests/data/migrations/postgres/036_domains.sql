-- case: ALTER DOMAIN ADD CONSTRAINT and CREATE DOMAIN with CHECK
-- expect: migration.create_domain_with_constraint@5
-- expect: migration.alter_domain_add_constraint@6

CREATE DOMAIN positive_amount AS numeric CHECK (VALUE > 0);
ALTER DOMAIN email_address ADD CONSTRAINT has_at CHECK (VALUE LIKE '%@%');
