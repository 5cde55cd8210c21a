-- verify-rls audit: LEAKPROOF functions outside pg_catalog. The planner runs them before the
-- RLS filter (on rows of every organization), so a function that lies about being leakproof
-- can echo other tenants' values through errors or notices. Only a superuser can mark one.
SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS qname
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE p.proleakproof
  AND n.nspname <> 'pg_catalog'
ORDER BY 1
