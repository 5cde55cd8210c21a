-- The expected schema of a version (what applying its migrations to an empty database builds),
-- as drift, baseline and repair compare the live schema with. Building it takes a scratch
-- database; the result only depends on the key (catalog reader, server major, connecting role,
-- the versions and checksums applied), so it is kept here instead of built on every `status`.
CREATE SCHEMA IF NOT EXISTS arcdb;
CREATE TABLE IF NOT EXISTS arcdb.expected_schema (
    key          text        PRIMARY KEY,
    version      integer     NOT NULL,
    server_major integer     NOT NULL,
    schema       jsonb       NOT NULL,
    build_ms     bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- The catalog fingerprint (`catalog::fingerprint`) of the last live schema found equal to the
-- expected schema `key`: while the live catalog hashes the same, `status` need not read it.
CREATE TABLE IF NOT EXISTS arcdb.live_fingerprint (
    key         text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    checked_at  timestamptz NOT NULL DEFAULT now()
);
