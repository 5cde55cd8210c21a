#!/usr/bin/env bash
# adopt at scale: `arcdb adopt` of the deployed ArcDesk database (../shared/fixtures/arcdesk-001
# schema.sql) holding 1M tasks and proportional rows, against the same SQL run by psql in one
# transaction (`psql -1`) on an identical copy, in the same run.
#
# Data: generated with SQL as doadmin into the deployed schema (its own triggers fire): 1000
# organizations, 5 users and 10 desks (1 top + 9 reporting to it) each, 1M tasks, 200k agent
# sessions, 500k messages, 100k QA reviews, 100k delegations, 2k data sources, 300k cost rows,
# 300k audit rows, 2k API keys (~2.5M rows). The database is then copied twice (CREATE DATABASE
# … TEMPLATE), one copy per side.
# arcdb: `arcdb adopt --format json` — total wall time, and per step the time the step took;
# every lock is taken in step `lock` and held to the commit, so "locks held" is lock → commit.
# psql: the SQL of `arcdb adopt --dry-run --format json` (every step but arcdb's own catalog
# verification and history records), with a clock_timestamp() marker after each step.
# BENCH_ADOPT_TASKS overrides the size (--quick: 100k); rows scale with it.
source "$(dirname "$0")/lib.sh"

TASKS=${BENCH_ADOPT_TASKS:-1000000}
if [ "$QUICK" = 1 ]; then TASKS=${BENCH_ADOPT_TASKS:-100000}; fi
ORGS=$((TASKS / 1000))
[ "$ORGS" -ge 10 ] || ORGS=10
FIXTURE=${ARCDB_SHARED_DIR:-$REPO/../shared}/fixtures/arcdesk-001
[ -f "$FIXTURE/schema.sql" ] || FIXTURE=$(cd "$REPO/../.." && pwd)/shared/fixtures/arcdesk-001
[ -f "$FIXTURE/schema.sql" ] || die "the deployed fixture is expected in ../shared/fixtures/arcdesk-001 (ARCDB_SHARED_DIR)"

cluster_start
fresh_db deployed
q deployed -1 -f "$FIXTURE/schema.sql" >/dev/null
q deployed -c "GRANT CREATE ON DATABASE deployed TO doadmin"
log "generating $TASKS tasks and proportional rows in the deployed schema …"
t0=$(now_ns)
q deployed -1 -v orgs="$ORGS" -v tasks="$TASKS" >/dev/null <<'SQL'
SET ROLE doadmin;
INSERT INTO organizations (id, name, slug, subscription_tier)
SELECT md5('org' || o)::uuid, 'Org ' || o, 'org-' || o, 'professional' FROM generate_series(1, :orgs) o;
INSERT INTO users (id, organization_id, email, username, full_name)
SELECT md5('user' || o || '-' || u)::uuid, md5('org' || o)::uuid, 'u' || u || '@org' || o || '.example', 'user' || u, 'User ' || u
  FROM generate_series(1, :orgs) o, generate_series(1, 5) u;
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model)
SELECT md5('desk' || o || '-1')::uuid, md5('org' || o)::uuid, 'cto-001', 'CTO', 'executive', 'anthropic', 'claude'
  FROM generate_series(1, :orgs) o;
INSERT INTO desks (id, organization_id, desk_id, title, role, llm_provider, llm_model, reports_to_id)
SELECT md5('desk' || o || '-' || d)::uuid, md5('org' || o)::uuid, 'eng-' || d, 'Engineer ' || d, 'engineer', 'openai', 'gpt-4o', md5('desk' || o || '-1')::uuid
  FROM generate_series(1, :orgs) o, generate_series(2, 10) d;
INSERT INTO workflows (id, organization_id, name, stages)
SELECT md5('wf' || o)::uuid, md5('org' || o)::uuid, 'Default', '[{"name":"build","order":1}]' FROM generate_series(1, :orgs) o;
INSERT INTO tasks (id, organization_id, title, created_by_id, assigned_to_id, workflow_id, status, priority, started_at, completed_at)
SELECT md5('task' || t)::uuid, md5('org' || (t % :orgs + 1))::uuid, 'Task ' || t,
       md5('user' || (t % :orgs + 1) || '-' || (t % 5 + 1))::uuid,
       md5('desk' || (t % :orgs + 1) || '-' || (t % 10 + 1))::uuid, md5('wf' || (t % :orgs + 1))::uuid,
       (ARRAY['pending','in_progress','completed','blocked'])[t % 4 + 1]::taskstatus,
       (ARRAY['low','medium','high','critical'])[t % 4 + 1]::taskpriority,
       now() - interval '2 hours', CASE WHEN t % 4 = 2 THEN now() - interval '1 hour' END
  FROM generate_series(1, :tasks) t;
INSERT INTO agent_sessions (id, desk_id, task_id, session_type, status, started_at, completed_at)
SELECT md5('sess' || s)::uuid, md5('desk' || (s * 5 % :orgs + 1) || '-' || (s * 5 % 10 + 1))::uuid, md5('task' || (s * 5))::uuid,
       'task', 'completed', now() - interval '3 hours', now() - interval '2 hours'
  FROM generate_series(1, :tasks / 5) s;
INSERT INTO messages (session_id, role, content)
SELECT md5('sess' || (m % (:tasks / 5) + 1))::uuid, CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END, 'message ' || m
  FROM generate_series(1, :tasks / 2) m;
INSERT INTO qa_reviews (task_id, stage_name, reviewer_desk_id, status, score, passed)
SELECT md5('task' || (r * 10))::uuid, 'review', md5('desk' || (r * 10 % :orgs + 1) || '-1')::uuid, 'passed', 90, true
  FROM generate_series(1, :tasks / 10) r;
INSERT INTO delegations (task_id, from_desk_id, to_desk_id, reason, status)
SELECT md5('task' || (r * 10))::uuid, md5('desk' || (r * 10 % :orgs + 1) || '-1')::uuid,
       md5('desk' || (r * 10 % :orgs + 1) || '-' || (r % 9 + 2))::uuid, 'work', 'completed'
  FROM generate_series(1, :tasks / 10) r;
INSERT INTO knowledge_bases (id, organization_id, name) SELECT md5('kb' || o)::uuid, md5('org' || o)::uuid, 'Docs' FROM generate_series(1, :orgs) o;
INSERT INTO data_sources (knowledge_base_id, name, source_type, uri)
SELECT md5('kb' || o)::uuid, 'src' || n, 'github', 'https://example/' || n FROM generate_series(1, :orgs) o, generate_series(1, 2) n;
INSERT INTO cost_tracking (organization_id, desk_id, task_id, provider, model, total_tokens, total_cost, created_at)
SELECT md5('org' || (c % :orgs + 1))::uuid, md5('desk' || (c % :orgs + 1) || '-' || (c % 10 + 1))::uuid, md5('task' || c)::uuid,
       'openai', 'gpt-4o', 1000, 0.01, timestamptz '2025-01-01' + (c % 60) * interval '1 day'
  FROM generate_series(1, :tasks * 3 / 10) c;
INSERT INTO audit_logs (organization_id, actor_type, action, resource_type, ip_address)
SELECT md5('org' || (a % :orgs + 1))::uuid, 'user', 'create', 'task', '10.0.' || (a % 250) || '.' || (a % 200 + 1)
  FROM generate_series(1, :tasks * 3 / 10) a;
INSERT INTO api_keys (organization_id, name, key_hash, key_prefix)
SELECT md5('org' || o)::uuid, 'key' || n, encode(sha256(('key' || o || '-' || n)::bytea), 'hex'), 'ak_' || n FROM generate_series(1, :orgs) o, generate_series(1, 2) n;
REFRESH MATERIALIZED VIEW mv_org_cost_summary;
REFRESH MATERIALIZED VIEW mv_desk_performance;
RESET ROLE;
SQL
GEN_S=$(awk -v ms="$(ms_since "$t0")" 'BEGIN { printf "%.1f", ms / 1000 }')
ROWS=$(q deployed -c "SELECT sum(n_live_tup) FROM pg_stat_user_tables" 2>/dev/null || echo "?")
q deployed -c "VACUUM ANALYZE" >/dev/null
log "generated in $GEN_S s"
for copy in run_arcdb run_psql run_dry; do
    q postgres -c "CREATE DATABASE $copy TEMPLATE deployed" -c "GRANT CREATE ON DATABASE $copy TO doadmin"
done

doadmin_dsn() { echo "host=$PGH port=$PGP user=doadmin dbname=$1"; }

# The plan, as SQL for psql.
"$ARCDB" --dsn "$(doadmin_dsn run_dry)" --format json adopt --dry-run >"$BENCH_WORK/plan.json" 2>>"$BENCH_LOG" || {
    cp "$BENCH_WORK/plan.json" "$REPO/target/bench/adopt-plan.json"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1])); [print(c['rows'], c['description'], file=sys.stderr) for c in r['checks'] if c['rows']]; print(r['gaps'], r['recognition']['refused'], file=sys.stderr)" "$BENCH_WORK/plan.json" || true
    die "adopt --dry-run refused (plan in target/bench/adopt-plan.json)"
}
python3 - "$BENCH_WORK/plan.json" >"$BENCH_WORK/adopt.sql" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
print("\\set ON_ERROR_STOP 1")
print("BEGIN;")
print("SET LOCAL lock_timeout = '30s'; SET LOCAL search_path = public;")
print("SELECT 'mark', 'start', clock_timestamp();")
for step in plan["plan"]:
    name = step["step"]
    if name in ("verify", "commit"):
        continue
    for sql in step["sql"]:
        if name == "check":
            print(f"SELECT count(*) FROM ({sql}) q;")
        else:
            print(sql.rstrip().rstrip(";") + ";")
    print(f"SELECT 'mark', '{name}', clock_timestamp();")
print("COMMIT;")
print("SELECT 'mark', 'commit', clock_timestamp();")
PY
if [ "$(q run_psql -c "SELECT current_setting('server_version_num')::int < 160000")" = t ]; then
    python3 - "$BENCH_WORK/plan.json" "$BENCH_WORK/adopt.sql" <<'PY'
import json, sys
helper = json.load(open(sys.argv[1]))["check_helper_sql"]
path = sys.argv[2]
text = open(path).read().replace("BEGIN;\n", "BEGIN;\n" + helper + ";\n", 1)
open(path, "w").write(text)
PY
fi

log "arcdb adopt …"
t0=$(now_ns)
"$ARCDB" --dsn "$(doadmin_dsn run_arcdb)" --format json adopt >"$BENCH_WORK/adopt.json" 2>>"$BENCH_LOG" ||
    die "arcdb adopt failed (see $BENCH_LOG)"
ARCDB_MS=$(ms_since "$t0")
log "psql -1 with the same SQL …"
t0=$(now_ns)
"$PSQL" -X -q -A -t -F ' ' -h "$PGH" -p "$PGP" -U doadmin -d run_psql -f "$BENCH_WORK/adopt.sql" >"$BENCH_WORK/psql.out" 2>>"$BENCH_LOG" ||
    die "psql run of the adopt SQL failed (see $BENCH_LOG)"
PSQL_MS=$(ms_since "$t0")
[ "$(q run_psql -c "SELECT count(*) FROM tasks")" = "$(q run_arcdb -c "SELECT count(*) FROM tasks")" ] || die "the two sides differ"

python3 - "$BENCH_WORK/adopt.json" "$BENCH_WORK/psql.out" "$ARCDB_MS" "$PSQL_MS" "$TASKS" "$ROWS" "$GEN_S" <<'PY'
import json, sys, datetime
report = json.load(open(sys.argv[1]))
marks = []
for line in open(sys.argv[2]):
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[0] == "mark":
        marks.append((parts[1], datetime.datetime.fromisoformat(parts[2].strip().replace(" ", "T", 1))))
psql_step = {}
for (a, ta), (b, tb) in zip(marks, marks[1:]):
    psql_step[b] = (tb - ta).total_seconds() * 1000
lock_to_commit = sum(v for k, v in psql_step.items() if k != "lock")
arcdb_ms, psql_ms = float(sys.argv[3]), float(sys.argv[4])
print(f"Deployed schema with {int(sys.argv[5]):,} tasks, {sys.argv[6]} rows in all (generated in {sys.argv[7]} s).\n")
print("| step | arcdb adopt (ms) | psql -1, same SQL (ms) | ratio |")
print("|---|---:|---:|---:|")
for step in report["plan"]:
    name = step["step"]
    a = step.get("duration_ms")
    p = psql_step.get(name)
    r = f"{a / p:.2f}" if a is not None and p else "-"
    print(f"| {name} | {a if a is not None else '-'} | {f'{p:.0f}' if p is not None else '- (not run)'} | {r} |")
held = report["locks_held_ms"]
print(f"| **locks held** (lock → commit) | {held} | {lock_to_commit:.0f} | {held / lock_to_commit:.2f} |")
print(f"| **total** (process wall time) | {arcdb_ms:.0f} | {psql_ms:.0f} | {arcdb_ms / psql_ms:.2f} |")
PY
echo
echo "arcdb's total also holds what psql's does not: two scratch databases (the expected 001 schema and arcdb's), the catalog reads, the row checks before the locks, and the verify step. $(machine_line)."
