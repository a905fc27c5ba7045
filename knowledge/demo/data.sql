-- Data for the dbsage demo database, generated inside the server with generate_series so that
-- loading takes seconds and needs no files. Values come from arithmetic on the series number,
-- not random(), so every load produces the same rows. Tenants are deliberately uneven in size:
-- a few large customers and a long tail, as in most SaaS products.
-- Lines starting `-- step:` name the progress steps the loader shows.

-- step: tenants (50)
INSERT INTO tenants (slug, name, plan, created_at)
SELECT 'tenant-' || lpad(g::text, 3, '0'),
       (ARRAY['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Tyrell', 'Cyberdyne', 'Soylent'])[1 + g % 10]
           || ' ' || (ARRAY['Labs', 'Systems', 'Group', 'Works', 'Analytics'])[1 + (g / 10) % 5],
       (ARRAY['free', 'team', 'team', 'enterprise'])[1 + g % 4],
       now() - make_interval(days => 400 + g * 11)
FROM generate_series(1, 50) AS g;

-- step: users (5,000)
-- The square skews users towards low tenant ids: tenant 1 gets hundreds, the last ones a handful.
INSERT INTO users (tenant_id, email, full_name, locale, created_at)
SELECT 1 + floor(50 * power(((g * 7919) % 5000) / 5000.0, 2))::int,
       'user' || g || '@example.com',
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'])[1 + g % 8]
           || ' ' || (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'])[1 + (g / 8) % 8],
       (ARRAY['en', 'en', 'de', 'fr', 'ja'])[1 + g % 5],
       now() - make_interval(hours => g * 5)
FROM generate_series(1, 5000) AS g;

-- step: projects (1,000)
INSERT INTO projects (tenant_id, owner_id, name, settings, archived, created_at)
SELECT u.tenant_id, u.id,
       'Project ' || g,
       json_build_object('color', (ARRAY['red', 'green', 'blue'])[1 + g % 3], 'notify', g % 2 = 0),
       g % 9 = 0,
       now() - make_interval(days => g % 365)
FROM generate_series(1, 1000) AS g
JOIN users AS u ON u.id = 1 + (g * 37) % 5000;

-- step: documents (30,000)
INSERT INTO documents (tenant_id, project_id, author_id, title, body, metadata, updated_at)
SELECT p.tenant_id, p.id, p.owner_id,
       'Document ' || g,
       repeat('Lorem ipsum dolor sit amet. ', 3 + g % 20),
       jsonb_build_object('words', 15 + (g % 20) * 5, 'tags', jsonb_build_array('tag' || g % 12, 'tag' || g % 7)),
       now() - make_interval(days => g % 365)
FROM generate_series(1, 30000) AS g
JOIN projects AS p ON p.id = 1 + (g * 13) % 1000;

-- step: products (2,000)
-- Forty products per tenant, inserted tenant by tenant so that product ids are (tenant - 1) * 40 + k.
INSERT INTO products (tenant_id, sku, name, unit_price)
SELECT t, 'SKU-' || t || '-' || k, 'Product ' || k || ' of tenant ' || t,
       round(5 + ((t * 97 + k * 7919) % 49500) / 100.0, 2)
FROM generate_series(1, 50) AS t, generate_series(1, 40) AS k
ORDER BY t, k;

-- step: orders (60,000)
-- Order lines are generated first so that each order's total is the sum of its lines: one to
-- six lines per order, always products of the ordering user's own tenant.
CREATE TEMPORARY TABLE demo_order_lines AS
SELECT g AS order_no, u.tenant_id, u.id AS user_id, k AS line_no, p.id AS product_id,
       1 + (g + k) % 4 AS quantity, p.unit_price
FROM generate_series(1, 60000) AS g
JOIN users AS u ON u.id = 1 + (g * 101) % 5000
CROSS JOIN LATERAL generate_series(1, 1 + g % 6) AS k
JOIN products AS p ON p.id = (u.tenant_id - 1) * 40 + 1 + (g / 7 + k * 13) % 40;

-- The order ids start past 90% of the int4 range: the key is close to running out.
INSERT INTO orders (id, tenant_id, user_id, status, total, placed_at)
SELECT 1940000000 + order_no, tenant_id, user_id,
       (ARRAY['pending', 'paid', 'paid', 'paid', 'shipped', 'shipped', 'cancelled'])[1 + order_no % 7],
       sum(quantity * unit_price)::money,
       now() - make_interval(mins => order_no * 7)
FROM demo_order_lines
GROUP BY order_no, tenant_id, user_id
ORDER BY order_no;
SELECT setval('orders_id_seq', (SELECT max(id) FROM orders));

-- step: order_items (~210,000)
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT 1940000000 + order_no, product_id, quantity, unit_price
FROM demo_order_lines
ORDER BY order_no, line_no;
DROP TABLE demo_order_lines;

-- step: invoices (48,000)
INSERT INTO invoices (tenant_id, order_id, amount, issued_at)
SELECT o.tenant_id, o.id, o.total::numeric, o.placed_at + interval '1 hour'
FROM orders AS o
WHERE o.id % 5 <> 0;

-- step: API keys (200)
INSERT INTO "ApiKeys" (tenant_id, "keyHash", "createdAt", last_used_at)
SELECT 1 + g % 50, md5('demo-key-' || g), now() - make_interval(days => g),
       CASE WHEN g % 4 = 0 THEN NULL ELSE now() - make_interval(hours => g) END
FROM generate_series(1, 200) AS g;

-- step: audit_log (120,000)
INSERT INTO audit_log (tenant_id, actor_id, action, entity, entity_id, details, created_at)
SELECT u.tenant_id, u.id,
       (ARRAY['create', 'update', 'update', 'view', 'delete'])[1 + g % 5],
       (ARRAY['document', 'order', 'project'])[1 + g % 3],
       1 + (g * 17) % 30000,
       jsonb_build_object('ip', '10.0.' || g % 256 || '.' || (g / 256) % 256),
       now() - make_interval(secs => g * 20)
FROM generate_series(1, 120000) AS g
JOIN users AS u ON u.id = 1 + (g * 53) % 5000;

-- step: analyze
-- Real row estimates and visibility maps, as a production database would have. VACUUM must be
-- the only statement of its step: it cannot run inside a transaction block.
VACUUM ANALYZE;
