-- 0001_extensions (down), CockroachDB variant: nothing was installed, so nothing is removed
-- (CITEXT is built in).
SELECT 1;
