-- verify-rls audit: functions without arguments outside the system schemas, candidates for the
-- organization helper that policies compare the tenant column with (current_org_id()). The
-- Rust side accepts one as a helper only if its body is one of the accepted readings of the
-- setting and the tenant cannot redefine it (it does not own it).
SELECT n.nspname::text  AS schema,
       p.proname::text  AS name,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '()' AS qname,
       l.lanname::text  AS language,
       coalesce(p.prosrc, '') AS source,
       p.proowner       AS owner
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE p.pronargs = 0
  AND p.prorettype <> 'pg_catalog.trigger'::regtype
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
