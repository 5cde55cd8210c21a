#!/usr/bin/env bash
# verify-rls: wall time of `arcdb verify-rls` at 10, 100 and 1000 organizations (a scale seed
# each, 1000 tasks per organization on average; --quick: 10, 50, 200 organizations with 500),
# to show how it grows.
#
# verify-rls probes at most --max-orgs organizations (default 50, a deterministic sample
# beyond that), so the time depends on two things, measured separately:
# * the database (10, 100, 1000 organizations, 10x the data each time) at the default sample:
#   `arcdb verify-rls` as a user runs it (median of REPS runs);
# * the number of organizations probed: every organization of the 10- and 100-organization
#   databases, and --max-orgs 100, 200, 500 and 1000 on the 1000-organization one (one run
#   each; --quick: 100 and 200 on its 200-organization database). --max-orgs N runs only when
#   N <= BENCH_VERIFY_ALL_MAX (default 1000; --quick: 200): lower it to skip the long runs.
#   Each probed organization aims its cross-organization UPDATE/DELETE at the sampled rows of
#   at most three others (src/rls/probe/session.rs, cross_org_targets), so the work per probed
#   organization no longer grows with the number probed (it did: 898 ms per organization,
#   ~15 min in all, when all 1000 were probed against each other's keys).
# ms per probed organization = (run - static audit) / organizations probed: constant when the
# time is linear in the organizations probed. verify-rls exits 5 when it has findings and 6
# when inconclusive (always with --static-only); both are completed runs here.
source "$(dirname "$0")/lib.sh"

SIZES=${BENCH_VERIFY_SIZES:-"10:10000 100:100000 1000:1000000"}
REPS=${BENCH_VERIFY_REPS:-3}
ALL_MAX=${BENCH_VERIFY_ALL_MAX:-1000}
if [ "$QUICK" = 1 ]; then
    SIZES=${BENCH_VERIFY_SIZES:-"10:5000 50:25000 200:100000"}
    REPS=${BENCH_VERIFY_REPS:-2}
    ALL_MAX=${BENCH_VERIFY_ALL_MAX:-200}
fi

cluster_start

# run_verify DB ARGS…: wall ms; fails on any exit code but 0 and 5.
run_verify() {
    local db=$1 t0 rc
    shift
    t0=$(now_ns)
    set +e
    "$ARCDB" --dsn "$(dsn "$db")" verify-rls --format json "$@" >"$BENCH_WORK/verify.json" 2>>"$BENCH_LOG"
    rc=$?
    set -e
    [ "$rc" = 0 ] || [ "$rc" = 5 ] || [ "$rc" = 6 ] || die "arcdb verify-rls $* on $db exited $rc (see $BENCH_LOG)"
    ms_since "$t0"
}

ROWS_OUT=()
STATIC_ROWS=()
# row ORGS TASKS PROBED MS STATIC RUNS
row() {
    local per
    per=$(awk -v t="$4" -v s="$5" -v n="$3" 'BEGIN { printf "%.1f", (t - s) / n }')
    ROWS_OUT+=("| $1 | $2 | $3 | $4 | $per | $6 |")
    log "verify-rls: $1 organizations, $3 probed: $4 ms ($per ms per probed organization)"
}
for size in $SIZES; do
    orgs=${size%%:*}
    tasks=${size##*:}
    db=scale_o${orgs}_t${tasks}
    ensure_scale_db "$db" "$orgs" "$tasks"
    run_verify "$db" --static-only >/dev/null # warm-up
    S=()
    D=()
    for ((i = 1; i <= REPS; i++)); do
        S+=("$(run_verify "$db" --static-only)")
        D+=("$(run_verify "$db")")
    done
    ms=$(median "${S[@]}")
    STATIC_ROWS+=("$orgs: $ms")
    probed=$((orgs < 50 ? orgs : 50))
    row "$orgs" "$tasks" "$probed" "$(median "${D[@]}")" "$ms" "median of $REPS (default)"
    for n in 100 200 500 1000; do
        if ((n <= orgs && n <= ALL_MAX)); then
            log "verify-rls --max-orgs $n on $db …"
            row "$orgs" "$tasks" "$n" "$(run_verify "$db" --max-orgs "$n")" "$ms" "1 (\`--max-orgs $n\`)"
        fi
    done
done

echo "## verify-rls: time at growing numbers of organizations"
echo
echo "Each size is a scale seed (\`arcdb seed --scale --orgs N --tasks T\`). Wall time in ms; ms per probed organization ="
echo "(run − static audit) / organizations probed. Static audit alone (\`--static-only\`, median of $REPS): $(IFS=';'; echo "${STATIC_ROWS[*]}" | sed 's/;/ ms; /g') ms (by organizations)."
echo
echo "| organizations | tasks | probed | ms | ms per probed org | runs |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${ROWS_OUT[@]}"
echo
echo "Commands: \`arcdb --dsn '<dsn>' verify-rls --format json [--static-only | --max-orgs N]\` (exit 0 or 5)."
echo
