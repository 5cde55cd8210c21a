#!/usr/bin/env bash
# refresh: `arcdb refresh` of both analytics views at scale (1000 organizations, 1M tasks;
# --quick: 200 / 100k), concurrent and plain, vs `REFRESH MATERIALIZED VIEW [CONCURRENTLY]`
# of the same two views through psql (the reference).
#
# arcdb refreshes CONCURRENTLY when a view is populated and has a usable unique index (both
# views here), plainly otherwise; its plain path is measured by making the views unpopulated
# first (`REFRESH MATERIALIZED VIEW … WITH NO DATA`, not timed). The four variants run in
# alternating order, REPS times each; medians.
source "$(dirname "$0")/lib.sh"

ORGS=${BENCH_RLS_ORGS:-1000}
TASKS=${BENCH_RLS_TASKS:-1000000}
REPS=${BENCH_REFRESH_REPS:-5}
if [ "$QUICK" = 1 ]; then
    ORGS=${BENCH_RLS_ORGS:-200}
    TASKS=${BENCH_RLS_TASKS:-100000}
    REPS=${BENCH_REFRESH_REPS:-3}
fi

cluster_start
DB=scale_o${ORGS}_t${TASKS}
ensure_scale_db "$DB" "$ORGS" "$TASKS"
VIEWS="desk_performance_mv org_cost_summary_mv"
# Populated (and the arcdb.refresh_log table created) before measuring.
arcdb "$DB" refresh >>"$BENCH_LOG" 2>&1 || die "arcdb refresh failed (see $BENCH_LOG)"

unpopulate() { for v in $VIEWS; do q "$DB" -c "REFRESH MATERIALIZED VIEW $v WITH NO DATA"; done; }
arcdb_refresh() {
    arcdb "$DB" refresh --format json >"$BENCH_WORK/refresh.json" || return 1
    # Check the mode arcdb chose.
    grep -q "\"mode\": *\"$1\"" "$BENCH_WORK/refresh.json" ||
        die "arcdb refresh did not refresh $1ly: $(tr -d '\n' <"$BENCH_WORK/refresh.json" | head -c 400)"
}
psql_refresh() {
    local how=$1 sql=()
    for v in $VIEWS; do sql+=(-c "REFRESH MATERIALIZED VIEW $how $v"); done
    q "$DB" "${sql[@]}"
}
variant() {
    case $1 in
    arcdb_concurrent) timed arcdb_refresh concurrent ;;
    psql_concurrent) timed psql_refresh CONCURRENTLY ;;
    arcdb_plain)
        unpopulate
        timed arcdb_refresh plain
        ;;
    psql_plain) timed psql_refresh "" ;;
    esac
}

ORDER=(arcdb_concurrent psql_concurrent arcdb_plain psql_plain)
declare -A T
for ((i = 1; i <= REPS; i++)); do
    if ((i % 2)); then order=("${ORDER[@]}"); else order=(psql_plain arcdb_plain psql_concurrent arcdb_concurrent); fi
    for v in "${order[@]}"; do
        q "$DB" -c CHECKPOINT
        ms=$(variant "$v")
        T[$v]="${T[$v]:-} $ms"
        log "refresh $i/$REPS $v: $ms ms"
    done
done
med() { median ${T[$1]}; }
AC=$(med arcdb_concurrent)
PC=$(med psql_concurrent)
AP=$(med arcdb_plain)
PP=$(med psql_plain)

ROWS=$(q "$DB" -c "SELECT (SELECT count(*) FROM desk_performance_mv) || ' + ' || (SELECT count(*) FROM org_cost_summary_mv)")
echo "## refresh: \`arcdb refresh\` of both views, concurrent and plain"
echo
echo "$ORGS organizations, $TASKS tasks; the two views hold $ROWS rows (desk_performance_mv + org_cost_summary_mv)."
echo "$REPS runs per variant, alternating order, CHECKPOINT before each; wall ms (median; all runs)."
echo
echo "| | arcdb refresh | psql REFRESH (reference) | ratio arcdb / psql |"
echo "|---|---|---|---|"
echo "| concurrent | $AC (${T[arcdb_concurrent]# }) | $PC (${T[psql_concurrent]# }) | $(ratio "$AC" "$PC")× |"
echo "| plain | $AP (${T[arcdb_plain]# }) | $PP (${T[psql_plain]# }) | $(ratio "$AP" "$PP")× |"
echo
echo "Concurrent / plain: arcdb $(ratio "$AC" "$AP")×, psql $(ratio "$PC" "$PP")× (CONCURRENTLY computes the new contents and"
echo "diffs them against the old with the unique index, so readers are never blocked; plain rewrites the view)."
echo
echo "Commands: \`arcdb --dsn '<dsn>' refresh --format json\` (concurrent: the views are populated; plain: after"
echo "\`REFRESH MATERIALIZED VIEW <v> WITH NO DATA\` on both, not timed); reference:"
echo "\`psql -c 'REFRESH MATERIALIZED VIEW [CONCURRENTLY] desk_performance_mv' -c '… org_cost_summary_mv'\`."
echo "Since migration 0009 \`arcdb refresh\` also brings the four tenant tables up to date in the same transaction"
echo "(DELETE of the rows gone, upsert of the changed ones); the psql reference does not, so the ratio includes that work."
echo
