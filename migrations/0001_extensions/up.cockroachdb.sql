-- 0001_extensions, CockroachDB variant: nothing to install. CITEXT is a built-in type from
-- CockroachDB 25.3 and CREATE EXTENSION citext is an error there (docs v26.2 citext.md);
-- gen_random_uuid() and sha256() are built in too.
-- This one statement fails early and clearly where CITEXT is not usable yet: a server older
-- than 25.3 (arcdb refuses those before migrating), or a cluster whose upgrade to 25.3 is not
-- finalized (the binary says 25.3, the cluster version does not).
SELECT 'arcdb'::CITEXT = 'ARCDB'::CITEXT AS citext_available;
