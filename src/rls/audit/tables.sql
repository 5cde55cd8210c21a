-- verify-rls audit: the tables to audit. Every ordinary, partitioned and foreign table of the
-- tenant schemas ($1), plus every partition or inheritance child of one of them wherever it
-- lives (a child queried directly is governed by its own RLS flag and policies, not its
-- parent's). $2 = the tenant column; has_tenant_column says whether the table carries it.
-- comment: the table's COMMENT (the `arcdb:global:` tag marks intentionally shared tables).
-- column_names / column_types: every column and its type (format_type), for the fixes.
WITH RECURSIVE audited(oid) AS (
    SELECT c.oid
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY ($1::text[])
      AND c.relkind IN ('r', 'p', 'f')
  UNION
    SELECT i.inhrelid
    FROM pg_catalog.pg_inherits AS i
    JOIN audited ON i.inhparent = audited.oid
)
SELECT c.oid,
       n.oid                                                 AS namespace,
       n.nspname::text                                       AS schema,
       c.relname::text                                       AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname,
       c.relkind::text                                       AS kind,
       c.relowner                                            AS owner,
       pg_catalog.pg_get_userbyid(c.relowner)::text          AS owner_name,
       c.relrowsecurity                                      AS rls,
       c.relforcerowsecurity                                 AS force_rls,
       EXISTS (SELECT 1
               FROM pg_catalog.pg_attribute AS a
               WHERE a.attrelid = c.oid AND a.attname = $2
                 AND a.attnum > 0 AND NOT a.attisdropped)    AS has_tenant_column,
       pg_catalog.obj_description(c.oid, 'pg_class')         AS comment,
       (SELECT quote_ident(pn.nspname) || '.' || quote_ident(pc.relname)
        FROM pg_catalog.pg_inherits AS i
        JOIN pg_catalog.pg_class AS pc ON pc.oid = i.inhparent
        JOIN pg_catalog.pg_namespace AS pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid
        ORDER BY i.inhseqno
        LIMIT 1)                                             AS parent,
       ARRAY(SELECT a.attname::text
             FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)                              AS column_names,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
             FROM pg_catalog.pg_attribute AS a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum)                              AS column_types
FROM audited
JOIN pg_catalog.pg_class AS c ON c.oid = audited.oid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
ORDER BY n.nspname, c.relname
