#!/usr/bin/env bash
# verify-rls: wall time of `arcdb verify-rls` at 10, 100 and 1000 organizations (a scale seed
# each, 1000 tasks per organization on average; --quick: 10, 50, 200 organizations with 500),
# to show how it grows.
#
# verify-rls probes at most --max-orgs organizations (default 50, a deterministic sample
# beyond that), so two series are measured:
# * default: `arcdb verify-rls` as a user runs it (median of REPS runs);
# * every organization probed: `arcdb verify-rls --max-orgs <N>` (one run each; at 1000
#   organizations a run takes minutes, so BENCH_VERIFY_ALL_MAX caps the largest size probed
#   completely, default 1000, --quick 200).
# Time per probed organization = (time - static audit time) / organizations probed; linear
# growth shows as a constant time per organization. verify-rls exits 5 when it has findings;
# that is a completed run here.
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
    [ "$rc" = 0 ] || [ "$rc" = 5 ] || die "arcdb verify-rls $* on $db exited $rc (see $BENCH_LOG)"
    ms_since "$t0"
}

ROWS_OUT=()
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
    md=$(median "${D[@]}")
    probed=$((orgs < 50 ? orgs : 50))
    per=$(awk -v t="$md" -v s="$ms" -v n="$probed" 'BEGIN { printf "%.1f", (t - s) / n }')
    all="—"
    per_all="—"
    if ((orgs <= ALL_MAX)); then
        if ((orgs > 50)); then
            log "verify-rls --max-orgs $orgs on $db (every organization probed) …"
            all=$(run_verify "$db" --max-orgs "$orgs")
        else
            all=$md # the default already probes every organization
        fi
        per_all=$(awk -v t="$all" -v s="$ms" -v n="$orgs" 'BEGIN { printf "%.1f", (t - s) / n }')
    fi
    log "verify-rls at $orgs organizations: static $ms ms, default $md ms, all $all ms"
    ROWS_OUT+=("| $orgs | $tasks | $ms | $md | $probed | $per | $all | $per_all |")
done

echo "## verify-rls: time at growing numbers of organizations"
echo
echo "Each size is a scale seed (\`arcdb seed --scale --orgs N --tasks T\`). Wall time in ms: static audit only and the"
echo "default run are medians of $REPS runs; \"every organization\" is one run of \`--max-orgs N\`. ms per organization ="
echo "(run − static) / organizations probed."
echo
echo "| organizations | tasks | \`--static-only\` ms | default ms | probed (default) | ms per probed org | every organization ms | ms per org |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS_OUT[@]}"
echo
echo "Commands: \`arcdb --dsn '<dsn>' verify-rls --format json [--static-only | --max-orgs N]\` (exit 0 or 5)."
echo
