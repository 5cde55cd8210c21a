-- 0001_extensions (down): remove citext again.
-- No CASCADE: if anything outside arcdb's migrations still uses citext, the rollback stops
-- here with a dependency error instead of silently dropping that column.
DROP EXTENSION IF EXISTS citext;
