-- verify-rls audit: every view and materialized view outside the system schemas, with its
-- options (security_invoker, security_barrier, check_option), its definition (views only) and
-- the relations its rewrite rule reads (pg_depend of its pg_rewrite row). Which of them hold
-- tenant rows is decided in Rust, transitively (a view over a matview over a tenant table).
SELECT c.oid,
       c.relname::text                                       AS name,
       quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname,
       c.relkind::text                                       AS kind,
       pg_catalog.pg_get_userbyid(c.relowner)::text          AS owner_name,
       coalesce(c.reloptions, '{}'::text[])                  AS options,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
       ARRAY(SELECT DISTINCT d.refobjid
             FROM pg_catalog.pg_rewrite AS rw
             JOIN pg_catalog.pg_depend AS d
               ON d.classid = 'pg_catalog.pg_rewrite'::regclass
              AND d.objid = rw.oid
              AND d.refclassid = 'pg_catalog.pg_class'::regclass
             WHERE rw.ev_class = c.oid
               AND d.refobjid <> c.oid)                      AS refs
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%'
  AND n.nspname NOT LIKE 'pg\_temp\_%'
ORDER BY n.nspname, c.relname
