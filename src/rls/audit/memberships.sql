-- verify-rls audit: every membership edge reachable from the tenant role ($1 = its oid), walked
-- recursively through pg_auth_members. The tenant can SET ROLE to (or inherits the privileges
-- of) every role reached, so each of them counts as the tenant: their attributes, privileges,
-- ownerships and the policies that name them. Paths are rebuilt in Rust from these edges.
-- UNION (not UNION ALL): PostgreSQL 16 may record one membership once per grantor.
WITH RECURSIVE reach(member, roleid) AS (
    SELECT m.member, m.roleid
    FROM pg_catalog.pg_auth_members AS m
    WHERE m.member = $1
  UNION
    SELECT m.member, m.roleid
    FROM pg_catalog.pg_auth_members AS m
    JOIN reach ON m.member = reach.roleid
)
SELECT reach.member,
       reach.roleid       AS role,
       r.rolname::text    AS name,
       r.rolsuper         AS superuser,
       r.rolbypassrls     AS bypassrls
FROM reach
JOIN pg_catalog.pg_roles AS r ON r.oid = reach.roleid
ORDER BY r.rolname
