-- Tenant tables: the tables in schema public whose comment carries
-- `arcdb:refreshed-from: <materialized view>` (0009). `arcdb refresh` brings each one up to
-- date with that materialized view right after refreshing it. Per table: the materialized view
-- (as written in the tag; unqualified = the table's schema), its columns in order with the
-- materialized view's column each is filled from (the column's own tag, else the same name),
-- its primary key in key order (what rows are matched on), and what the tenant may do with it.
-- Catalog rows only: nothing here opens or locks a relation. pg_catalog directly, not
-- obj_description() per row or information_schema's key views: planned on every fresh
-- connection, those cost more than all the rest (~4 ms of a `views` or `refresh`).
WITH tagged AS (
    SELECT c.oid,
           n.nspname::text AS schema,
           c.relname::text AS name,
           substring(d.description
                     FROM 'arcdb:refreshed-from:\s*([A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?)') AS source,
           c.relrowsecurity AS rls_enabled
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_description AS d
        ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
       AND d.objsubid = 0
     WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
)
SELECT t.schema,
       t.name,
       t.source,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_attribute AS a
              WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum)                                  AS columns,
       ARRAY(SELECT coalesce(substring(d.description
                                       FROM 'arcdb:refreshed-from:\s*([A-Za-z_][A-Za-z0-9_$]*)'),
                             a.attname::text)
               FROM pg_catalog.pg_attribute AS a
               LEFT JOIN pg_catalog.pg_description AS d
                 ON d.objoid = a.attrelid AND d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
                AND d.objsubid = a.attnum
              WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
              ORDER BY a.attnum)                                  AS source_columns,
       ARRAY(SELECT a.attname::text
               FROM pg_catalog.pg_constraint AS k
              CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u (attnum, position)
               JOIN pg_catalog.pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
              WHERE k.conrelid = t.oid AND k.contype = 'p'
              ORDER BY u.position)                                AS key,
       t.rls_enabled,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'arcdesk_tenant')
            THEN has_table_privilege('arcdesk_tenant', t.oid, 'SELECT') END AS granted_to_tenant
  FROM tagged AS t
 WHERE t.source IS NOT NULL
 ORDER BY t.schema, t.name
