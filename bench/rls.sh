#!/usr/bin/env bash
# RLS overhead: a fixed query mix a tenant application runs, as arcdesk_tenant with
# app.current_org_id set (the policies filter) vs the owner with an explicit
# `organization_id = …` filter, on several organizations of a scale database
# (1000 organizations, 1M tasks; --quick: 200 organizations, 100k tasks).
#
# One psql session runs every sample: for each iteration, query and organization it runs
# `SET ROLE arcdesk_tenant; SET app.current_org_id = '<org>'` + the tenant query, and `RESET ROLE`
# + the owner query, alternating which side goes first; only the two queries are timed (psql's
# \timing, client side). Simple query protocol: every statement is parsed and planned, as psql
# and most ORMs without prepared statements do. The ratio of a query on an organization is
# median(tenant) / median(owner). Target: <= 1.10x on every query.
# Then the same mix with prepared statements (pgbench -M prepared), as an application with a
# driver that prepares its statements runs it: one connection per side, tenant connections
# started with role=arcdesk_tenant and app.current_org_id; for each query, organization and
# round, `pgbench -n -M prepared -c 1 -T 1` of the tenant statement and of the owner statement,
# alternating which goes first; ratio = median over rounds of pgbench's average latency.
# For every query the script also prints EXPLAIN (ANALYZE) of both sides on the largest
# organization (into the results when --explain, always into the log).
source "$(dirname "$0")/lib.sh"

ORGS=${BENCH_RLS_ORGS:-1000}
TASKS=${BENCH_RLS_TASKS:-1000000}
SAMPLES=${BENCH_RLS_SAMPLES:-201}
ROUNDS=${BENCH_RLS_PREPARED_ROUNDS:-5}
if [ "$QUICK" = 1 ]; then
    ORGS=${BENCH_RLS_ORGS:-200}
    TASKS=${BENCH_RLS_TASKS:-100000}
    SAMPLES=${BENCH_RLS_SAMPLES:-61}
    ROUNDS=${BENCH_RLS_PREPARED_ROUNDS:-3}
fi
TARGET=1.10
EXPLAIN=0
WHATIF=""
while [ $# -gt 0 ]; do
    case $1 in
    --explain) EXPLAIN=1 ;;
    --what-if)
        WHATIF=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
        [ -f "$WHATIF" ] || die "--what-if $2: no such file"
        shift
        ;;
    esac
    shift
done
# With --what-if FILE, the mix (and the EXPLAINs) run inside one transaction that first runs
# FILE (candidate migration changes) and is rolled back at the end: nothing is committed.
begin_whatif() { [ -n "$WHATIF" ] && printf 'BEGIN;\n\\i %s\n' "$WHATIF" || true; }
end_whatif() { [ -n "$WHATIF" ] && echo 'ROLLBACK;' || true; }

cluster_start
DB=${BENCH_RLS_DB:-scale_o${ORGS}_t${TASKS}}
ensure_scale_db "$DB" "$ORGS" "$TASKS"

# desk_performance holds (a table since 0009, kept up to date by arcdb refresh) or reads (a view
# before 0009) the materialized view: populate both if no refresh ran yet.
if [ "$(q "$DB" -c "SELECT bool_and(ispopulated) AND (SELECT count(*) > 0 FROM desk_performance_mv)
                       AND ((SELECT relkind FROM pg_class WHERE oid = 'public.desk_performance'::regclass) <> 'r'
                            OR (SELECT count(*) > 0 FROM desk_performance))
                      FROM pg_matviews WHERE schemaname = 'public'")" != t ]; then
    log "populating the materialized views and their tenant tables (arcdb refresh)"
    arcdb "$DB" refresh >>"$BENCH_LOG" 2>&1 || die "arcdb refresh on $DB failed (see $BENCH_LOG)"
fi
# Visibility map and statistics as a database in service would have them (autovacuum), the
# same for both sides.
log "VACUUM ANALYZE $DB"
q "$DB" -c "VACUUM ANALYZE"

# Organizations by size: rank 1 is the largest (Zipf), rank ORGS the smallest.
RANKS="1 10 100 $ORGS"
declare -A ORG_ID ORG_TASKS DESK SESSION TASK
for rank in $RANKS; do
    read -r id n <<<"$(q "$DB" -F' ' -c "
        SELECT o.id, (SELECT count(*) FROM tasks t WHERE t.organization_id = o.id)
          FROM organizations o WHERE (o.settings #>> '{arcdb_scale,rank}')::int = $rank")"
    [ -n "$id" ] || die "no scale organization of rank $rank in $DB"
    ORG_ID[$rank]=$id
    ORG_TASKS[$rank]=$n
    # The busiest desk, the longest session and a task in the middle of the numbering.
    DESK[$rank]=$(q "$DB" -c "SELECT assigned_to_id FROM tasks WHERE organization_id = '$id' AND assigned_to_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    SESSION[$rank]=$(q "$DB" -c "SELECT session_id FROM messages WHERE organization_id = '$id' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    TASK[$rank]=$(q "$DB" -c "SELECT id FROM tasks WHERE organization_id = '$id' ORDER BY task_number OFFSET (SELECT count(*) / 2 FROM tasks WHERE organization_id = '$id') LIMIT 1")
    [ -n "${DESK[$rank]}" ] && [ -n "${SESSION[$rank]}" ] && [ -n "${TASK[$rank]}" ] ||
        die "organization of rank $rank has no desk with tasks, session with messages or task"
done

OPEN="status IN ('pending', 'assigned', 'in_progress', 'in_review', 'blocked')"
QUERIES="open_tasks session_messages cost_by_month desk_performance point_lookup count_tasks"
# query_sql NAME SIDE RANK: the SQL of one query; SIDE tenant (no organization filter: the
# policies or the view filter) or owner (explicit organization_id = …).
query_sql() {
    local name=$1 side=$2 rank=$3 org f=""
    org=${ORG_ID[$rank]}
    [ "$side" = owner ] && f="organization_id = '$org' AND "
    case $name in
    open_tasks)
        echo "SELECT id, task_number, title, status, priority, created_at FROM tasks WHERE ${f}assigned_to_id = '${DESK[$rank]}' AND $OPEN ORDER BY priority, created_at LIMIT 50;"
        ;;
    session_messages)
        echo "SELECT id, sequence_number, role, content, created_at FROM messages WHERE ${f}session_id = '${SESSION[$rank]}' ORDER BY sequence_number;"
        ;;
    cost_by_month)
        if [ "$side" = owner ]; then f="WHERE organization_id = '$org' "; fi
        echo "SELECT billing_month, provider, sum(total_cost) AS cost, sum(total_tokens) AS tokens, count(*) AS calls FROM cost_tracking ${f}GROUP BY billing_month, provider ORDER BY billing_month, provider;"
        ;;
    desk_performance)
        if [ "$side" = owner ]; then
            echo "SELECT * FROM desk_performance_mv WHERE organization_id = '$org' AND desk_id = '${DESK[$rank]}';"
        else
            echo "SELECT * FROM desk_performance WHERE desk_id = '${DESK[$rank]}';"
        fi
        ;;
    point_lookup)
        echo "SELECT * FROM tasks WHERE ${f}id = '${TASK[$rank]}';"
        ;;
    count_tasks)
        if [ "$side" = owner ]; then f="WHERE organization_id = '$org'"; fi
        echo "SELECT count(*) FROM tasks $f;"
        ;;
    esac
}

tenant_options() { echo "-c role=arcdesk_tenant -c app.current_org_id=${ORG_ID[$1]}"; }

# Sanity: both sides return the same rows (the tenant sees exactly its organization).
for name in $QUERIES; do
    for rank in $RANKS; do
        a=$(PGOPTIONS=$(tenant_options "$rank") q "$DB" -c "$(query_sql "$name" tenant "$rank")" | md5sum)
        b=$(q "$DB" -c "$(query_sql "$name" owner "$rank")" | md5sum)
        [ "$a" = "$b" ] || die "$name on rank $rank: the tenant and the owner get different rows"
    done
done

for name in $QUERIES; do
    for rank in $RANKS; do
        for side in tenant owner; do
            query_sql "$name" "$side" "$rank" >"$BENCH_WORK/$name.$rank.$side.sql"
        done
    done
done

# One psql session runs every sample: for each iteration, query and organization, the tenant
# statement (after SET ROLE arcdesk_tenant; SET app.current_org_id) and the owner statement
# (after RESET ROLE), in alternating order. Only the two queries are timed (\timing, client side:
# send, parse, plan, execute, receive); their results go to /dev/null.
SCRIPT="$BENCH_WORK/mix.sql"
LABELS="$BENCH_WORK/labels"
{
    echo '\set ON_ERROR_STOP on'
    echo '\o /dev/null'
    echo '\timing off'
    begin_whatif
} >"$SCRIPT"
: >"$LABELS"
emit() { # name rank side
    if [ "$3" = tenant ]; then
        echo "SET ROLE arcdesk_tenant; SET app.current_org_id = '${ORG_ID[$2]}';"
    else
        echo "RESET ROLE; RESET app.current_org_id;"
    fi
    echo '\timing on'
    cat "$BENCH_WORK/$1.$2.$3.sql"
    echo '\timing off'
    echo "$1 $2 $3" >>"$LABELS"
}
for ((i = 1; i <= SAMPLES; i++)); do
    for name in $QUERIES; do
        for rank in $RANKS; do
            if ((i % 2)); then
                emit "$name" "$rank" tenant
                emit "$name" "$rank" owner
            else
                emit "$name" "$rank" owner
                emit "$name" "$rank" tenant
            fi
        done
    done
done >>"$SCRIPT"
end_whatif >>"$SCRIPT"

log "RLS mix: $SAMPLES samples per query, organization and side, interleaved in one psql session"
q "$DB" -f "$SCRIPT" | awk '/^Time: / { print $2 }' >"$BENCH_WORK/times" ||
    die "the query mix failed"
[ "$(wc -l <"$BENCH_WORK/times")" = "$(wc -l <"$LABELS")" ] ||
    die "expected $(wc -l <"$LABELS") timings, got $(wc -l <"$BENCH_WORK/times")"
paste -d' ' "$LABELS" "$BENCH_WORK/times" | while read -r name rank side ms; do
    echo "$ms" >>"$BENCH_WORK/lat.$name.$rank.$side"
done

if [ -n "$WHATIF" ]; then
    echo "## RLS overhead, what-if \`${WHATIF#"$REPO"/}\` (applied in a transaction, rolled back)"
    echo
    echo "The same mix and method as above (simple protocol only), run inside one transaction that first runs"
    echo "\`${WHATIF#"$REPO"/}\` and is rolled back afterwards: nothing is committed."
else
    echo "## RLS overhead: tenant (policies) vs owner (explicit filter)"
fi
echo
echo "Database: $ORGS organizations, $TASKS tasks (\`arcdb seed --scale --orgs $ORGS --tasks $TASKS\`, then VACUUM ANALYZE$(
    [ -n "${SEED_SECONDS:-}" ] && echo "; this run loaded it: $SEED_ROWS rows in $SEED_SECONDS s, wall time of the command")$(
    [ -z "${SEED_SECONDS:-}" ] && echo "; loaded earlier in this run"));"
echo "organizations by rank (1 = largest):$(for r in $RANKS; do printf ' rank %s = %s tasks;' "$r" "${ORG_TASKS[$r]}"; done)"
echo "$SAMPLES samples per query, organization and side, all in one psql session, tenant and owner statements"
echo "alternating; median latency (ms, psql \\timing: send + parse + plan + execute + receive), ratio = tenant / owner."
echo "Target ≤ $TARGET×."
echo
# ratio_table DIR: the markdown table of median(tenant) / median(owner) per query and
# organization, from DIR/lat.<query>.<rank>.<side> (one latency in ms per line). Sets MISSED to
# the queries over target.
ratio_table() {
    local dir=$1 name rank row worst t o r v
    printf '| query | %s | worst | verdict |\n' "$(for r in $RANKS; do printf 'rank %s (tenant / owner ms = ratio) | ' "$r"; done | sed 's/ | $//')"
    printf '|---|%s---|---|\n' "$(for _ in $RANKS; do printf -- '---|'; done)"
    MISSED=""
    for name in $QUERIES; do
        row="| $name |"
        worst=0
        for rank in $RANKS; do
            t=$(median $(cat "$dir/lat.$name.$rank.tenant"))
            o=$(median $(cat "$dir/lat.$name.$rank.owner"))
            r=$(ratio "$t" "$o")
            worst=$(awk -v a="$worst" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
            row="$row $t / $o = **${r}×** |"
        done
        v=$(verdict "$worst" "$TARGET" le)
        [ "$v" = met ] || MISSED="$MISSED $name"
        echo "$row ${worst}× | $v |"
    done
}
ratio_table "$BENCH_WORK"
SIMPLE_MISSED=$MISSED
echo
echo "Queries (tenant side; the owner side adds \`organization_id = '<org>' AND\`, and reads"
echo "\`desk_performance_mv\` instead of \`desk_performance\`, the tenant table (a security_barrier view before 0009)):"
echo
echo '```sql'
for name in $QUERIES; do
    echo "-- $name"
    query_sql "$name" tenant 1 | sed -E "s/'[0-9a-f-]{36}'/'<id>'/g"
done
echo '```'
echo
echo "Command: \`psql -X -f mix.sql <db>\` where mix.sql repeats, for every query and organization,"
echo "\`SET ROLE arcdesk_tenant; SET app.current_org_id = '<org>';\` \`\\timing on\` <tenant query> \`\\timing off\`"
echo "\`RESET ROLE; RESET app.current_org_id;\` \`\\timing on\` <owner query> \`\\timing off\` (sides alternate which goes first)."

# The same mix with prepared statements: what an application whose driver prepares its
# statements (or a pooler-friendly ORM with a statement cache) pays. A what-if runs in one
# uncommitted transaction that other connections cannot see, so this part needs committed SQL.
MISSED_PREPARED=""
if [ -z "$WHATIF" ]; then
    PGBENCH="$PG_BIN/pgbench"
    [ -x "$PGBENCH" ] || die "pgbench not found in $PG_BIN (it ships with the PostgreSQL server binaries)"
    PREP="$BENCH_WORK/prepared"
    mkdir -p "$PREP"
    log "RLS mix, prepared statements: $ROUNDS rounds of 1 s per query, organization and side (pgbench -M prepared)"
    # avg_latency SIDE RANK FILE: pgbench's average latency (ms) of FILE on one connection for 1 s.
    avg_latency() {
        local opts="" out
        [ "$1" = tenant ] && opts=$(tenant_options "$2")
        out=$(PGOPTIONS=$opts "$PGBENCH" -n -M prepared -c 1 -T 1 -h "$PGH" -p "$PGP" -U postgres -f "$3" "$DB" 2>&1) ||
            die "pgbench of $3 failed: $(tail -2 <<<"$out")"
        awk '/^latency average/ { print $4 }' <<<"$out"
    }
    for ((i = 1; i <= ROUNDS; i++)); do
        for name in $QUERIES; do
            for rank in $RANKS; do
                sides="tenant owner"
                ((i % 2)) || sides="owner tenant"
                for side in $sides; do
                    avg_latency "$side" "$rank" "$BENCH_WORK/$name.$rank.$side.sql" >>"$PREP/lat.$name.$rank.$side"
                done
            done
        done
    done
    echo "### The same mix with prepared statements"
    echo
    echo "$ROUNDS rounds per query, organization and side; each round is \`pgbench -n -M prepared -c 1 -T 1\` of the one"
    echo "statement on its own connection (tenant connections start with \`PGOPTIONS='-c role=arcdesk_tenant -c app.current_org_id=<org>'\`),"
    echo "tenant and owner alternating which goes first; median over rounds of pgbench's average latency (ms), ratio = tenant / owner."
    echo "The statements are planned once and their plans reused, as with a driver that prepares statements: what remains"
    echo "is the execution cost of the policies (one InitPlan reading the setting, the policy filters)."
    echo
    ratio_table "$PREP"
    MISSED_PREPARED=$MISSED
    echo
fi
MISSED=$(printf '%s\n' $SIMPLE_MISSED $MISSED_PREPARED | sort -u | tr '\n' ' ' | sed 's/ $//')
[ -z "$MISSED" ] || MISSED=" $MISSED"

# EXPLAIN ANALYZE of both sides on the largest organization.
explain() {
    local name=$1 side=$2
    {
        echo '\o /dev/null'
        begin_whatif
        if [ "$side" = tenant ]; then
            echo "SET ROLE arcdesk_tenant; SET app.current_org_id = '${ORG_ID[1]}';"
        fi
        echo '\o'
        echo "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) $(query_sql "$name" "$side" 1)"
        echo '\o /dev/null'
        end_whatif
    } >"$BENCH_WORK/explain.sql"
    q "$DB" -f "$BENCH_WORK/explain.sql"
}
{
    for name in $QUERIES; do
        for side in tenant owner; do
            echo "### $name, $side, rank 1"
            explain "$name" "$side"
        done
    done
} >>"$BENCH_LOG" 2>&1
if [ -n "$MISSED" ] || [ "$EXPLAIN" = 1 ]; then
    echo
    echo "EXPLAIN ANALYZE on the largest organization$([ -n "$MISSED" ] && echo " of the queries over target:$MISSED"):"
    for name in ${MISSED:-$QUERIES}; do
        for side in tenant owner; do
            echo
            echo "<details><summary>$name — $side</summary>"
            echo
            echo '```'
            explain "$name" "$side"
            echo '```'
            echo "</details>"
        done
    done
fi
echo
