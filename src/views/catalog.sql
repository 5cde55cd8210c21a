-- The materialized views arcdb manages (every one in schema public, the application schema),
-- with what `arcdb refresh` and `arcdb views` decide on. PostgreSQL 14+.
-- Catalog rows only: nothing here opens a relation (no pg_total_relation_size, no
-- pg_get_viewdef), so it never waits behind a lock someone holds on a view, such as a plain
-- refresh in progress. Sizes and row counts are measured separately, under a lock timeout.
--   unique_indexes: each UNIQUE index with the properties PostgreSQL checks before
--     REFRESH … CONCURRENTLY (matview.c, is_usable_unique_index): unique, immediate, btree,
--     valid, no WHERE clause, only plain user columns (no expression, no system column).
--   reads_matviews: other materialized views this one reads directly (refreshed first).
--   tenant_views: the views that read this one directly, as the tenant-facing path;
--     filters_by_current_org: the view's rule calls current_org_id() (a dependency in the
--     catalog) or current_setting() (0006's form); a heuristic, verify-rls probes what it
--     really returns.
--   tenant_can_read: whether arcdesk_tenant may SELECT the materialized view itself (it must
--     not: materialized views carry no row-level security); NULL when the role is missing.
--   forced_rls_tables: tables it reads under FORCE ROW LEVEL SECURITY while its owner (as whom
--     REFRESH runs) is neither superuser nor BYPASSRLS, so the refresh sees only what the
--     policies show the owner, typically nothing.
WITH tenant AS (
    SELECT oid FROM pg_roles WHERE rolname = 'arcdesk_tenant'
)
SELECT
    c.oid::int8                                 AS oid,
    n.nspname                                   AS schema,
    c.relname                                   AS name,
    pg_get_userbyid(c.relowner)                 AS owner,
    c.relispopulated                            AS populated,
    c.reltuples::float8                         AS reltuples,
    has_table_privilege(c.oid, 'SELECT')        AS can_select,
    coalesce((
        SELECT json_agg(json_build_object(
                   'name', ic.relname,
                   'valid', i.indisvalid,
                   'immediate', i.indimmediate,
                   'btree', am.amname = 'btree',
                   'partial', i.indpred IS NOT NULL,
                   'plain_columns', i.indnatts > 0 AND 0 < ALL (i.indkey::int2[])
               ) ORDER BY ic.relname)
          FROM pg_index AS i
          JOIN pg_class AS ic ON ic.oid = i.indexrelid
          JOIN pg_am AS am ON am.oid = ic.relam
         WHERE i.indrelid = c.oid AND i.indisunique
    ), '[]'::json)                              AS unique_indexes,
    ARRAY(
        SELECT DISTINCT d.refobjid::int8
          FROM pg_rewrite AS r
          JOIN pg_depend AS d
            ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
           AND d.refclassid = 'pg_class'::regclass
          JOIN pg_class AS m ON m.oid = d.refobjid
         WHERE r.ev_class = c.oid AND m.oid <> c.oid AND m.relkind = 'm'
    )                                           AS reads_matviews,
    coalesce((
        SELECT json_agg(json_build_object(
                   'schema', vn.nspname,
                   'name', v.relname,
                   'security_barrier', EXISTS (
                       SELECT 1 FROM pg_options_to_table(v.reloptions) AS o
                        WHERE o.option_name = 'security_barrier'
                          AND lower(o.option_value) IN ('true', 'on', 'yes', '1')),
                   'security_invoker', EXISTS (
                       SELECT 1 FROM pg_options_to_table(v.reloptions) AS o
                        WHERE o.option_name = 'security_invoker'
                          AND lower(o.option_value) IN ('true', 'on', 'yes', '1')),
                   'filters_by_current_org', EXISTS (
                       SELECT 1
                         FROM pg_rewrite AS vr
                         JOIN pg_depend AS fd
                           ON fd.classid = 'pg_rewrite'::regclass AND fd.objid = vr.oid
                          AND fd.refclassid = 'pg_proc'::regclass
                         JOIN pg_proc AS f ON f.oid = fd.refobjid
                        WHERE vr.ev_class = v.oid AND f.proname = 'current_org_id')
                   OR EXISTS (
                       -- current_setting() is pinned, so no pg_depend row names it: look for
                       -- the call in the rule's node tree instead (a text search of a catalog
                       -- column, which locks nothing, unlike pg_get_viewdef).
                       SELECT 1
                         FROM pg_rewrite AS vr
                        WHERE vr.ev_class = v.oid
                          AND (vr.ev_action::text LIKE '%:funcid ' || 'pg_catalog.current_setting(text,boolean)'::regprocedure::oid || ' %'
                               OR vr.ev_action::text LIKE '%:funcid ' || 'pg_catalog.current_setting(text)'::regprocedure::oid || ' %')),
                   'granted_to_tenant', (SELECT has_table_privilege(t.oid, v.oid, 'SELECT') FROM tenant AS t)
               ) ORDER BY vn.nspname, v.relname)
          FROM (SELECT DISTINCT r.ev_class AS oid
                  FROM pg_depend AS d
                  JOIN pg_rewrite AS r ON r.oid = d.objid
                 WHERE d.classid = 'pg_rewrite'::regclass
                   AND d.refclassid = 'pg_class'::regclass
                   AND d.refobjid = c.oid
                   AND r.ev_class <> c.oid) AS dep
          JOIN pg_class AS v ON v.oid = dep.oid AND v.relkind = 'v'
          JOIN pg_namespace AS vn ON vn.oid = v.relnamespace
    ), '[]'::json)                              AS tenant_views,
    (SELECT has_any_column_privilege(t.oid, c.oid, 'SELECT') FROM tenant AS t)
                                                AS tenant_can_read,
    ARRAY(
        SELECT DISTINCT format('%I.%I', tn.nspname, t.relname)
          FROM pg_rewrite AS r
          JOIN pg_depend AS d
            ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
           AND d.refclassid = 'pg_class'::regclass
          JOIN pg_class AS t ON t.oid = d.refobjid
          JOIN pg_namespace AS tn ON tn.oid = t.relnamespace
          JOIN pg_roles AS o ON o.oid = c.relowner
         WHERE r.ev_class = c.oid
           AND t.relkind IN ('r', 'p')
           AND t.relrowsecurity AND t.relforcerowsecurity
           AND NOT (o.rolsuper OR o.rolbypassrls)
    )                                           AS forced_rls_tables
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND n.nspname = 'public'
ORDER BY c.relname
