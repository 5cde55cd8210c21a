#!/usr/bin/env bash
# seed at scale: rows per second of `arcdb seed --scale` vs the floor, COPY of the same rows
# through psql.
#
# The first arcdb run's tables are dumped with `COPY … TO` (text format, every column but the
# generated one); the floor then loads those files into the same tables (same constraints,
# foreign keys checked) in one transaction, with the user triggers disabled the way arcdb does
# (`ALTER TABLE … DISABLE TRIGGER USER` inside the transaction, ENABLE before COMMIT), and
# ANALYZEs them afterwards as arcdb does. Between runs the tables are TRUNCATEd and a
# CHECKPOINT is taken (not timed). Runs alternate arcdb / floor. Target: arcdb ≥ 0.7× the
# floor's rows/s (median of the runs).
#
# Default size: 100 organizations, 100k tasks (~250k rows), 3 runs per side; --quick: 20
# organizations, 20k tasks, 2 runs. BENCH_SEED_ORGS / BENCH_SEED_TASKS / BENCH_SEED_REPS override.
source "$(dirname "$0")/lib.sh"

ORGS=${BENCH_SEED_ORGS:-100}
TASKS=${BENCH_SEED_TASKS:-100000}
REPS=${BENCH_SEED_REPS:-3}
if [ "$QUICK" = 1 ]; then
    ORGS=${BENCH_SEED_ORGS:-20}
    TASKS=${BENCH_SEED_TASKS:-20000}
    REPS=${BENCH_SEED_REPS:-2}
fi
TARGET=0.7

cluster_start
DB=scale_o${ORGS}_t${TASKS}
fresh_db "$DB"
arcdb "$DB" up >>"$BENCH_LOG" 2>&1 || die "arcdb up failed"

# The tables in arcdb's load order (parents first), as the seed reports them.
TABLES=(organizations users desks workflows tasks agent_sessions messages qa_reviews delegations
    knowledge_bases data_sources cost_tracking api_keys audit_logs)
# Columns a COPY can write: all but generated ones (cost_tracking.total_tokens).
columns() {
    q "$DB" -c "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                 WHERE attrelid = 'public.$1'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''"
}
declare -A COLS
for t in "${TABLES[@]}"; do COLS[$t]=$(columns "$t"); done

reset_tables() {
    local list
    list=$(printf 'public.%s, ' "${TABLES[@]}")
    q "$DB" -c "TRUNCATE ${list%, } CASCADE" -c "CHECKPOINT"
}

# The floor's load script: one transaction, user triggers off, \copy of every dumped file.
FLOOR_SQL="$BENCH_WORK/floor_load.sql"
{
    echo '\set ON_ERROR_STOP on'
    echo 'BEGIN;'
    for t in "${TABLES[@]}"; do echo "ALTER TABLE public.$t DISABLE TRIGGER USER;"; done
    for t in "${TABLES[@]}"; do
        echo "\\copy public.$t (${COLS[$t]}) FROM '$BENCH_WORK/$t.copy'"
    done
    for t in "${TABLES[@]}"; do echo "ALTER TABLE public.$t ENABLE TRIGGER USER;"; done
    echo 'COMMIT;'
} >"$FLOOR_SQL"
ANALYZE_SQL="ANALYZE $(printf 'public.%s, ' "${TABLES[@]}" | sed 's/, $//')"

dump_tables() {
    for t in "${TABLES[@]}"; do
        q "$DB" -c "\\copy (SELECT ${COLS[$t]} FROM public.$t) TO '$BENCH_WORK/$t.copy'"
    done
}
count_rows() {
    q "$DB" -c "SELECT $(printf '(SELECT count(*) FROM public.%s) + ' "${TABLES[@]}") 0"
}

AR=() # arcdb rows/s, wall time incl. ANALYZE
AL=() # arcdb rows/s, load only (its own load_seconds: BEGIN…COMMIT)
FR=() # floor rows/s, wall incl. ANALYZE
FL=() # floor rows/s, load transaction only
ROWS=""
run_arcdb() {
    local t0 ms out=$BENCH_WORK/seed.json
    t0=$(now_ns)
    arcdb "$DB" seed --scale --orgs "$ORGS" --tasks "$TASKS" --format json >"$out" 2>>"$BENCH_LOG" ||
        die "arcdb seed --scale failed (see $BENCH_LOG)"
    ms=$(ms_since "$t0")
    ROWS=$(json_field "$out" total_rows)
    AR+=("$(awk -v r="$ROWS" -v ms="$ms" 'BEGIN { printf "%.0f", r / (ms / 1000) }')")
    AL+=("$(awk -v r="$ROWS" -v s="$(json_field "$out" load_seconds)" 'BEGIN { printf "%.0f", r / s }')")
    log "arcdb seed --scale: $ROWS rows in $ms ms (load $(json_field "$out" load_seconds) s, ANALYZE $(json_field "$out" analyze_seconds) s)"
}
run_floor() {
    local load an n
    load=$(timed q "$DB" -f "$FLOOR_SQL")
    an=$(timed q "$DB" -c "$ANALYZE_SQL")
    n=$(count_rows)
    [ "$n" = "$ROWS" ] || die "the floor loaded $n rows, arcdb $ROWS"
    FR+=("$(awk -v r="$ROWS" -v ms="$(awk -v a="$load" -v b="$an" 'BEGIN { print a + b }')" 'BEGIN { printf "%.0f", r / (ms / 1000) }')")
    FL+=("$(awk -v r="$ROWS" -v ms="$load" 'BEGIN { printf "%.0f", r / (ms / 1000) }')")
    log "psql COPY: $ROWS rows, load $load ms, ANALYZE $an ms"
}

q "$DB" -c CHECKPOINT
run_arcdb
dump_tables
for ((i = 1; i <= REPS; i++)); do
    reset_tables
    run_floor
    if ((i < REPS)); then
        reset_tables
        run_arcdb
    fi
done
# The database ends with one complete load (the floor's copy of arcdb's rows), which later
# benchmarks of the same run may reuse.
q "$DB" -c "VACUUM ANALYZE" >/dev/null

int() { printf '%.0f' "$1"; }
MAR=$(int "$(median "${AR[@]}")")
MFR=$(int "$(median "${FR[@]}")")
MAL=$(int "$(median "${AL[@]}")")
MFL=$(int "$(median "${FL[@]}")")
R=$(ratio "$MAR" "$MFR")
RL=$(ratio "$MAL" "$MFL")
echo "## seed at scale: \`arcdb seed --scale\` vs COPY through psql (the floor)"
echo
echo "$ORGS organizations, $TASKS tasks: $ROWS rows in 14 tables. ${#AR[@]} arcdb runs and ${#FR[@]} floor runs, alternating, each"
echo "into the same (TRUNCATEd) tables; rows/s (median). \"with ANALYZE\": wall time of the whole command (arcdb"
echo "ANALYZEs after its COMMIT; the floor runs the same ANALYZE); \"load\": BEGIN … COMMIT only (arcdb's own"
echo "\`load_seconds\`, the floor's psql transaction)."
echo
echo "| | rows/s with ANALYZE | rows/s load | runs (rows/s with ANALYZE) |"
echo "|---|---|---|---|"
echo "| \`arcdb seed --scale\` (binary COPY) | $MAR | $MAL | ${AR[*]} |"
echo "| \`psql\` \\copy text, one transaction (floor) | $MFR | $MFL | ${FR[*]} |"
echo
echo "**Ratio arcdb / floor: ${R}×** with ANALYZE, ${RL}× load only (target ≥ $TARGET×: $(verdict "$R" "$TARGET" ge))."
echo
echo "Commands: \`arcdb --dsn '<dsn>' seed --scale --orgs $ORGS --tasks $TASKS --format json\`;"
echo "dump: \`psql -c \"\\copy (SELECT <columns> FROM public.<table>) TO '<table>.copy'\"\` for each table;"
echo "floor: \`psql -X -q -v ON_ERROR_STOP=1 -f floor_load.sql\` then \`psql -c 'ANALYZE <the 14 tables>'\`, where floor_load.sql is"
echo
echo '```sql'
echo 'BEGIN;'
echo 'ALTER TABLE public.<table> DISABLE TRIGGER USER;               -- each of the 14 tables'
echo "\\copy public.<table> (<columns>) FROM '<table>.copy'          -- each table, parents first"
echo 'ALTER TABLE public.<table> ENABLE TRIGGER USER;                -- each table'
echo 'COMMIT;'
echo '```'
echo
