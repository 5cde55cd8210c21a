-- verify-rls: large objects the tenant role ($1) — or any role it can become (MEMBER: inherited
-- or only by SET ROLE) — can read or
-- write, before PostgreSQL 18 (no has_largeobject_privilege): the owner has every privilege,
-- else the ACL decides (lomacl; NULL is acldefault, the owner's only; an empty array would not
-- explode), PUBLIC (grantee 0) included. Large objects have no row-level security.
WITH access AS (
    SELECT m.oid,
           m.lomowner,
           pg_catalog.pg_has_role($1::text, m.lomowner, 'MEMBER') AS owned,
           ARRAY(SELECT DISTINCT acl.privilege_type::text
                 FROM aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) AS acl
                 WHERE acl.privilege_type IN ('SELECT', 'UPDATE')
                   AND CASE WHEN acl.grantee = 0 THEN true
                            ELSE pg_catalog.pg_has_role($1::text, acl.grantee, 'MEMBER') END
                 ORDER BY 1) AS granted
    FROM pg_catalog.pg_largeobject_metadata AS m
)
SELECT oid::bigint                                                           AS loid,
       pg_catalog.pg_get_userbyid(lomowner)::text                            AS owner_name,
       CASE WHEN owned THEN ARRAY['SELECT', 'UPDATE'] ELSE granted END       AS privileges,
       owned
FROM access
WHERE owned OR cardinality(granted) > 0
ORDER BY 1
