-- verify-rls audit (membership and supabase models): functions of one or two arguments
-- returning boolean outside the system schemas, candidates for a membership helper that
-- policies call with the tenant column (is_member(organization_id), or with the user too:
-- is_member(organization_id, auth.uid())). The Rust side accepts one only if its body is a
-- membership check of its arguments bound to the user, and the tenant does not own it.
SELECT n.nspname::text  AS schema,
       p.proname::text  AS name,
       l.lanname::text  AS language,
       coalesce(p.prosrc, '') AS source,
       p.proowner       AS owner,
       ARRAY(SELECT coalesce(p.proargnames[i], '')::text
               FROM generate_series(1, p.pronargs::int) AS i ORDER BY i) AS args
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE p.pronargs BETWEEN 1 AND 2
  AND p.prorettype = 'pg_catalog.bool'::regtype
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 1, 2
