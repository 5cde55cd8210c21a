-- 0001_extensions: install the one contrib extension the schema uses.
-- citext gives case-insensitive emails, usernames, slugs and desk ids, so that
-- 'Alice@Acme.com' and 'alice@acme.com' collide on the unique keys without lower() everywhere.
-- Nothing else is needed: gen_random_uuid() and sha256() are core since PostgreSQL 13 / 11,
-- so neither pgcrypto nor uuid-ossp is installed. citext is a trusted extension (PG 13+):
-- a database owner without superuser can install it.
CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;
