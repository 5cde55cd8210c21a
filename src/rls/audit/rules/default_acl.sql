-- verify-rls audit: default privileges (ALTER DEFAULT PRIVILEGES) on tables ('r') and sequences
-- ('S') that grant something to the tenant's roles or PUBLIC ($1, 0 = PUBLIC): every such
-- object created later is readable or writable by tenants from its first moment, before
-- anyone has enabled RLS or written a policy on it.
SELECT pg_catalog.pg_get_userbyid(d.defaclrole)::text AS owner_name,
       CASE WHEN d.defaclnamespace = 0 THEN NULL
            ELSE (SELECT n.nspname::text FROM pg_catalog.pg_namespace AS n
                  WHERE n.oid = d.defaclnamespace) END  AS schema,
       d.defaclobjtype::text                           AS objtype,
       acl.grantee,
       array_agg(acl.privilege_type::text ORDER BY acl.privilege_type) AS privileges
FROM pg_catalog.pg_default_acl AS d,
     LATERAL aclexplode(d.defaclacl) AS acl
WHERE d.defaclobjtype IN ('r', 'S')
  AND acl.grantee = ANY ($1::oid[])
GROUP BY d.defaclrole, d.defaclnamespace, d.defaclobjtype, acl.grantee
ORDER BY 1, 2 NULLS FIRST, 3
