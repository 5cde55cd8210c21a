-- verify-rls audit: SECURITY DEFINER functions outside the system schemas. They run with their
-- owner's rights, so whether they leak depends on the owner bypassing RLS (superuser,
-- BYPASSRLS, or owning a table that is not FORCEd) and on what they read.
--   executable_by: which of the tenant's roles ($1, 0 = PUBLIC) hold EXECUTE (PUBLIC does by
--                  default unless revoked);
--   refs:          relations recorded in pg_depend (only SQL-standard bodies record them; the
--                  Rust side also scans the source text for table names);
--   owner_of:      which of the audited tables' owners ($2) the function's owner has the
--                  privileges of (it then bypasses RLS on their tables unless FORCEd).
SELECT p.oid,
       'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       pg_catalog.pg_get_userbyid(p.proowner)::text  AS owner_name,
       o.rolsuper                                    AS owner_superuser,
       o.rolbypassrls                                AS owner_bypassrls,
       l.lanname::text                               AS language,
       p.prorettype = 'pg_catalog.trigger'::regtype  AS is_trigger,
       coalesce(p.prosrc, '')                        AS source,
       coalesce(p.proconfig, '{}'::text[])           AS config,
       ARRAY(SELECT DISTINCT acl.grantee
             FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS acl
             WHERE acl.privilege_type = 'EXECUTE'
               AND acl.grantee = ANY ($1::oid[]))     AS executable_by,
       ARRAY(SELECT DISTINCT d.refobjid
             FROM pg_catalog.pg_depend AS d
             WHERE d.classid = 'pg_catalog.pg_proc'::regclass
               AND d.objid = p.oid
               AND d.refclassid = 'pg_catalog.pg_class'::regclass) AS refs,
       ARRAY(SELECT t.oid
             FROM unnest($2::oid[]) AS t(oid)
             WHERE pg_catalog.pg_has_role(p.proowner, t.oid, 'USAGE')) AS owner_of
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles AS o ON o.oid = p.proowner
JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
WHERE p.prosecdef
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
ORDER BY 2
