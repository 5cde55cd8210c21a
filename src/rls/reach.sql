-- verify-rls: relations outside the tenant schemas ($2) that the tenant role ($1) — or any role
-- it can become: every role it is a member of, directly or not, inherited or only by SET ROLE
-- (pg_has_role … 'MEMBER') — can use: USAGE on the schema and a privilege on the relation.
-- System schemas are left out; so are tables tagged `arcdb:global:` (shared on purpose),
-- reported as passes.
WITH become AS (
    SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE pg_catalog.pg_has_role($1::text, r.oid, 'MEMBER')
)
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)           AS qname,
       c.relkind::text                                                  AS kind,
       ARRAY(SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p
             WHERE EXISTS (SELECT 1 FROM become AS b WHERE has_table_privilege(b.oid, c.oid, p)))                   AS privileges,
       coalesce(obj_description(c.oid, 'pg_class'), '') LIKE 'arcdb:global:%' AS global
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND NOT c.relispartition
  AND n.nspname <> ALL ($2::text[])
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'arcdb')
  AND n.nspname NOT LIKE 'pg\_%'
  AND EXISTS (SELECT 1 FROM become AS b
              WHERE has_schema_privilege(b.oid, n.oid, 'USAGE')
                AND (has_table_privilege(b.oid, c.oid, 'SELECT') OR has_table_privilege(b.oid, c.oid, 'INSERT')
                     OR has_table_privilege(b.oid, c.oid, 'UPDATE') OR has_table_privilege(b.oid, c.oid, 'DELETE')
                     OR has_table_privilege(b.oid, c.oid, 'TRUNCATE')))
ORDER BY 1
