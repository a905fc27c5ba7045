CREATE ROLE {{run}}_app LOGIN;
CREATE TABLE notes (id bigint PRIMARY KEY, tenant_id bigint NOT NULL, body text NOT NULL);
ALTER TABLE notes OWNER TO {{run}}_app;
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_tenant ON notes USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
INSERT INTO notes SELECT g, 1 + g % 20, 'note ' || g FROM generate_series(1, 10000) g;
