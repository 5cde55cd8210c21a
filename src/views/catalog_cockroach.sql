-- The materialized views arcdb manages on CockroachDB (every one in schema public). CockroachDB
-- refreshes plainly whatever the indexes, so only what `arcdb views` lists is read here.
SELECT
    0::int8                 AS oid,
    schemaname              AS schema,
    matviewname             AS name,
    matviewowner            AS owner,
    ispopulated             AS populated,
    NULL::float8            AS reltuples,
    true                    AS can_select,
    '[]'::json              AS unique_indexes,
    ARRAY[]::int8[]         AS reads_matviews,
    '[]'::json              AS tenant_views,
    NULL::bool              AS tenant_can_read,
    ARRAY[]::text[]         AS forced_rls_tables
FROM pg_catalog.pg_matviews
WHERE schemaname = 'public'
ORDER BY matviewname
