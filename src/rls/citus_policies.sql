-- verify-rls, Citus rule: every policy of a table Citus distributes (pg_dist_partition, which
-- exists only where the citus extension is installed), with whether it is permissive.
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS table_qname,
       p.polname::text                                          AS policy,
       p.polpermissive                                          AS permissive,
       d.partmethod::text                                       AS method
FROM pg_catalog.pg_policy AS p
JOIN pg_catalog.pg_class AS c ON c.oid = p.polrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_dist_partition AS d ON d.logicalrelid = c.oid
ORDER BY 1, 2
