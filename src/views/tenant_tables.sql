-- Tenant tables: the tables in schema public whose comment carries
-- `arcdb:refreshed-from: <materialized view>` (0009). `arcdb refresh` brings each one up to
-- date with that materialized view right after refreshing it. Per table: the materialized view
-- (as written in the tag; unqualified = the table's schema), its columns in order with the
-- materialized view's column each is filled from (the column's own tag, else the same name),
-- its primary key in key order (what rows are matched on), and what the tenant may do with it.
-- Catalog rows only: nothing here opens or locks a relation.
WITH tagged AS (
    SELECT c.oid,
           n.nspname::text AS schema,
           c.relname::text AS name,
           substring(obj_description(c.oid, 'pg_class')
                     FROM 'arcdb:refreshed-from:\s*([A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?)') AS source,
           c.relrowsecurity AS rls_enabled
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
)
SELECT t.schema,
       t.name,
       t.source,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute AS a
              WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum)                                  AS columns,
       ARRAY(SELECT coalesce(substring(col_description(t.oid, a.attnum)
                                       FROM 'arcdb:refreshed-from:\s*([A-Za-z_][A-Za-z0-9_$]*)'),
                             a.attname::text)
               FROM pg_catalog.pg_attribute AS a
              WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum)                                  AS source_columns,
       ARRAY(SELECT k.column_name::text
               FROM information_schema.table_constraints AS tc
               JOIN information_schema.key_column_usage AS k
                 ON k.constraint_schema = tc.constraint_schema
                AND k.constraint_name = tc.constraint_name
                AND k.table_name = tc.table_name
              WHERE tc.table_schema = t.schema AND tc.table_name = t.name
                AND tc.constraint_type = 'PRIMARY KEY'
              ORDER BY k.ordinal_position)                        AS key,
       t.rls_enabled,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'arcdesk_tenant')
            THEN has_table_privilege('arcdesk_tenant', t.oid, 'SELECT') END AS granted_to_tenant
  FROM tagged AS t
 WHERE t.source IS NOT NULL
 ORDER BY t.schema, t.name
