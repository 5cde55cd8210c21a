-- `arcdb local dsn|psql --tenant ORG`: the developer's tenant login role in the local cluster and
-- the organization ORG (an id or a slug). psql variables: role, org.
-- The role is a member of arcdesk_tenant and never SUPERUSER or BYPASSRLS, so row-level security
-- applies to it exactly as to the application's tenant sessions. Created once, kept in shape.
SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'arcdesk_tenant') AS no_tenant_role \gset
\if :no_tenant_role
  \echo NO_TENANT_ROLE
  \quit
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :'role') AS create_role \gset
\if :create_role
  CREATE ROLE :"role" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE IN ROLE arcdesk_tenant;
\else
  ALTER ROLE :"role" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  GRANT arcdesk_tenant TO :"role";
\endif
SELECT 'ORG ' || id::text || ' ' || slug::text FROM public.organizations
 WHERE id::text = lower(:'org') OR slug = :'org';
