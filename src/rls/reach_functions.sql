-- verify-rls: functions and procedures outside the tenant schemas ($2) that the tenant role ($1)
-- — or any role it can become (a member of, inherited or only by SET ROLE) — can run: EXECUTE
-- and USAGE on the schema. Left out: the system schemas, arcdb's own schema, functions that belong
-- to an extension (pg_depend deptype 'e': the extension's, not the schema's author's), and
-- trigger functions (which cannot be called; the audit follows the triggers themselves).
--   definer:          SECURITY DEFINER: it runs with its owner's rights, not the tenant's;
--   owner_bypasses:   its owner is a superuser or has BYPASSRLS (no policy applies to it);
--   owner_of_tenant:  its owner has the privileges of the owner of a tenant table (RLS does not
--                     apply to a table's owner unless FORCEd).
WITH become AS (
    SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE pg_catalog.pg_has_role($1::text, r.oid, 'MEMBER')
)
SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS signature,
       CASE WHEN p.prokind = 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END          AS kind,
       quote_ident(n.nspname) || '.' || quote_ident(p.proname)
           || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS qname,
       pg_catalog.pg_get_userbyid(p.proowner)::text                            AS owner_name,
       p.prosecdef                                                             AS definer,
       (o.rolsuper OR o.rolbypassrls)                                          AS owner_bypasses,
       EXISTS (SELECT 1
               FROM pg_catalog.pg_class AS t
               JOIN pg_catalog.pg_namespace AS tn ON tn.oid = t.relnamespace
               WHERE t.relkind IN ('r', 'p')
                 AND tn.nspname = ANY ($2::text[])
                 AND pg_catalog.pg_has_role(p.proowner, t.relowner, 'USAGE')) AS owner_of_tenant
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_roles AS o ON o.oid = p.proowner
WHERE p.prokind IN ('f', 'p')
  AND p.prorettype NOT IN ('pg_catalog.trigger'::regtype, 'pg_catalog.event_trigger'::regtype)
  AND n.nspname <> ALL ($2::text[])
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'arcdb')
  AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1
                  FROM pg_catalog.pg_depend AS d
                  WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                    AND d.objid = p.oid
                    AND d.deptype = 'e')
  AND EXISTS (SELECT 1 FROM become AS b
              WHERE has_schema_privilege(b.oid, n.oid, 'USAGE')
                AND has_function_privilege(b.oid, p.oid, 'EXECUTE'))
ORDER BY 1
