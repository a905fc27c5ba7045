-- A little of the traffic the application would send, run once after loading, so that the index
-- usage statistics look lived-in: indexes the application needs have been scanned; the duplicate
-- and the redundant ones have not, which is how they show up on a real server.
-- Lines starting `-- step:` name the progress steps the loader shows.

-- step: sample traffic
DO $$
DECLARE
    t bigint;
    n bigint;
BEGIN
    FOR t IN SELECT id FROM tenants ORDER BY id LOOP
        -- the tenant's order list, newest first
        PERFORM id FROM orders WHERE tenant_id = t ORDER BY placed_at DESC LIMIT 20;
        -- one customer's order history
        PERFORM id FROM orders WHERE user_id = (SELECT min(id) FROM users WHERE tenant_id = t);
        -- sales of one product
        SELECT sum(quantity) INTO n FROM order_items WHERE product_id = (t - 1) * 40 + 1 AND quantity >= 2;
        -- a project's documents
        PERFORM id FROM documents WHERE project_id = (SELECT min(id) FROM projects WHERE tenant_id = t);
        -- the tenant's activity this week
        PERFORM action FROM audit_log WHERE tenant_id = t AND created_at > now() - interval '7 days';
        -- the tenant's API keys
        PERFORM id FROM "ApiKeys" WHERE tenant_id = t;
    END LOOP;
    -- the lines of a few orders: no index on order_items.order_id, so each is a full scan
    FOR n IN SELECT id FROM orders ORDER BY id DESC LIMIT 5 LOOP
        PERFORM product_id FROM order_items WHERE order_id = n;
        PERFORM amount FROM invoices WHERE order_id = n;
    END LOOP;
END
$$;
