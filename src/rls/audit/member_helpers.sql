-- verify-rls audit (membership and supabase models): functions of one argument returning
-- boolean outside the system schemas, candidates for a membership helper that policies call
-- with the tenant column (is_member(organization_id)). The Rust side accepts one only if its
-- body is a membership check of its argument bound to the current user, and the tenant does
-- not own it.
SELECT n.nspname::text  AS schema,
       p.proname::text  AS name,
       l.lanname::text  AS language,
       coalesce(p.prosrc, '') AS source,
       p.proowner       AS owner,
       nullif(p.proargnames[1], '')::text AS arg
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE p.pronargs = 1
  AND p.prorettype = 'pg_catalog.bool'::regtype
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
