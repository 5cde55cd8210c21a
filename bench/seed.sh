#!/usr/bin/env bash
# seed at scale: rows per second of `arcdb seed --scale` vs the floor, COPY of the same rows
# through psql.
#
# The first arcdb run's tables are dumped with `COPY … TO` (text format, every column but the
# generated one). The floor loads those files with psql into the same tables, in one
# transaction, with the user triggers disabled the way arcdb does (`ALTER TABLE … DISABLE
# TRIGGER USER` inside the transaction, ENABLE before COMMIT), and ANALYZEs them afterwards as
# arcdb does. Two pairs, because arcdb has two load strategies:
# * rebuild (arcdb's default): arcdb drops the loaded tables' keys, indexes and foreign keys,
#   COPYs, and builds / validates them again in the same transaction (like pg_restore). The
#   floor does the same from the catalog definitions (psql: DROP …, \copy, CREATE INDEX / ADD
#   CONSTRAINT …, COMMENT …) — the best a psql script can do with the same end state.
# * keep (`arcdb seed --scale --keep-indexes`): indexes and foreign keys stay in place during
#   COPY (per-row maintenance and checks); the floor is a plain \copy into the same tables.
# Between runs the tables are TRUNCATEd and a CHECKPOINT is taken (not timed); the four
# variants alternate. Target: arcdb (default) ≥ 0.7× the floor's rows/s (medians).
#
# Default size: 100 organizations, 100k tasks (~250k rows), 3 runs per variant; --quick: 20
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

# The tables in arcdb's load order (parents first).
TABLES=(organizations users desks workflows tasks agent_sessions messages qa_reviews delegations
    knowledge_bases data_sources cost_tracking api_keys audit_logs)
TABLE_ARRAY="ARRAY[$(printf "'public.%s'::regclass, " "${TABLES[@]}" | sed 's/, $//')]"
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

# DDL of the rebuild floor, from the catalog: foreign keys, then keys (primary, unique,
# exclusion), then the other indexes of the 14 tables; rebuilt in the opposite order, with their
# comments (the platform-unique tags verify-rls reads).
ddl() { q "$DB" -c "$1"; }
DROP_FKS=$(ddl "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I;', conrelid::regclass, conname)
                  FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY ($TABLE_ARRAY) ORDER BY conrelid, conname")
ADD_FKS=$(ddl "SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', conrelid::regclass, conname, pg_get_constraintdef(oid))
                 FROM pg_constraint WHERE contype = 'f' AND conrelid = ANY ($TABLE_ARRAY) ORDER BY conrelid, conname")
DROP_KEYS=$(ddl "SELECT format('ALTER TABLE %s DROP CONSTRAINT %I;', conrelid::regclass, conname)
                   FROM pg_constraint WHERE contype IN ('p', 'u', 'x') AND conrelid = ANY ($TABLE_ARRAY) ORDER BY conrelid, conname")
ADD_KEYS=$(ddl "SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', conrelid::regclass, conname, pg_get_constraintdef(oid))
                    || coalesce(format(' COMMENT ON CONSTRAINT %I ON %s IS %L;', conname, conrelid::regclass, obj_description(oid, 'pg_constraint')), '')
                  FROM pg_constraint WHERE contype IN ('p', 'u', 'x') AND conrelid = ANY ($TABLE_ARRAY) ORDER BY conrelid, conname")
DROP_INDEXES=$(ddl "SELECT format('DROP INDEX %s;', indexrelid::regclass) FROM pg_index i
                     WHERE indrelid = ANY ($TABLE_ARRAY)
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                     ORDER BY indexrelid::regclass::text")
ADD_INDEXES=$(ddl "SELECT pg_get_indexdef(indexrelid) || ';'
                          || coalesce(format(' COMMENT ON INDEX %s IS %L;', indexrelid::regclass, obj_description(indexrelid, 'pg_class')), '')
                     FROM pg_index i WHERE indrelid = ANY ($TABLE_ARRAY)
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
                     ORDER BY indexrelid::regclass::text")

# floor_script FILE rebuild|keep
floor_script() {
    {
        echo '\set ON_ERROR_STOP on'
        echo 'BEGIN;'
        for t in "${TABLES[@]}"; do echo "ALTER TABLE public.$t DISABLE TRIGGER USER;"; done
        if [ "$2" = rebuild ]; then
            echo "$DROP_FKS"
            echo "$DROP_KEYS"
            echo "$DROP_INDEXES"
        fi
        for t in "${TABLES[@]}"; do
            echo "\\copy public.$t (${COLS[$t]}) FROM '$BENCH_WORK/$t.copy'"
        done
        if [ "$2" = rebuild ]; then
            echo "$ADD_INDEXES"
            echo "$ADD_KEYS"
            echo "$ADD_FKS"
        fi
        for t in "${TABLES[@]}"; do echo "ALTER TABLE public.$t ENABLE TRIGGER USER;"; done
        echo 'COMMIT;'
    } >"$1"
}
floor_script "$BENCH_WORK/floor_rebuild.sql" rebuild
floor_script "$BENCH_WORK/floor_keep.sql" keep
ANALYZE_SQL="ANALYZE $(printf 'public.%s, ' "${TABLES[@]}" | sed 's/, $//')"

dump_tables() {
    for t in "${TABLES[@]}"; do
        q "$DB" -c "\\copy (SELECT ${COLS[$t]} FROM public.$t) TO '$BENCH_WORK/$t.copy'"
    done
}
count_rows() {
    q "$DB" -c "SELECT $(printf '(SELECT count(*) FROM public.%s) + ' "${TABLES[@]}") 0"
}
schema() { "$PG_BIN/pg_dump" --schema-only --exclude-schema=arcdb -d "$(dsn "$DB")" | grep -v -e '^-- Dumped' -e '^\\restrict' -e '^\\unrestrict'; }
SCHEMA_BEFORE=$(schema)

# Rows/s per variant: R_<v> with ANALYZE (wall of the whole command; the floor: load + ANALYZE),
# L_<v> load only (arcdb's own load_seconds, BEGIN … COMMIT; the floor's load transaction).
declare -A R L
rate() { awk -v r="$1" -v ms="$2" 'BEGIN { printf "%.0f", r / (ms / 1000) }'; }
ROWS=""
run_arcdb() { # variant (arcdb | arcdb_keep)
    local t0 ms out=$BENCH_WORK/seed.json extra=()
    [ "$1" = arcdb_keep ] && extra=(--keep-indexes)
    t0=$(now_ns)
    arcdb "$DB" seed --scale --orgs "$ORGS" --tasks "$TASKS" "${extra[@]}" --format json >"$out" 2>>"$BENCH_LOG" ||
        die "arcdb seed --scale ${extra[*]} failed (see $BENCH_LOG)"
    ms=$(ms_since "$t0")
    ROWS=$(json_field "$out" total_rows)
    R[$1]="${R[$1]:-} $(rate "$ROWS" "$ms")"
    L[$1]="${L[$1]:-} $(rate "$ROWS" "$(awk -v s="$(json_field "$out" load_seconds)" 'BEGIN { print s * 1000 }')")"
    log "$1: $ROWS rows in $ms ms (load $(json_field "$out" load_seconds) s, ANALYZE $(json_field "$out" analyze_seconds) s)"
}
run_floor() { # variant (floor | floor_keep)
    local load an n file=$BENCH_WORK/floor_rebuild.sql
    [ "$1" = floor_keep ] && file=$BENCH_WORK/floor_keep.sql
    load=$(timed q "$DB" -f "$file")
    an=$(timed q "$DB" -c "$ANALYZE_SQL")
    n=$(count_rows)
    [ "$n" = "$ROWS" ] || die "the floor loaded $n rows, arcdb $ROWS"
    R[$1]="${R[$1]:-} $(rate "$ROWS" "$(awk -v a="$load" -v b="$an" 'BEGIN { print a + b }')")"
    L[$1]="${L[$1]:-} $(rate "$ROWS" "$load")"
    log "$1: $ROWS rows, load $load ms, ANALYZE $an ms"
}
variant() {
    reset_tables
    case $1 in
    arcdb*) run_arcdb "$1" ;;
    floor*) run_floor "$1" ;;
    esac
}

q "$DB" -c CHECKPOINT
run_arcdb arcdb
dump_tables
R[arcdb]=""
L[arcdb]=""
for ((i = 1; i <= REPS; i++)); do
    if ((i % 2)); then
        order=(arcdb floor arcdb_keep floor_keep)
    else
        order=(floor_keep arcdb_keep floor arcdb)
    fi
    for v in "${order[@]}"; do variant "$v"; done
    if [ "$i" = 1 ] && [ "$(schema)" != "$SCHEMA_BEFORE" ]; then
        die "the schema changed after the loads (the floor's rebuild DDL is incomplete)"
    fi
done
# The database ends with one complete load (arcdb's rows), which later benchmarks of the same
# run may reuse.
q "$DB" -c "VACUUM ANALYZE" >/dev/null
[ "$(schema)" = "$SCHEMA_BEFORE" ] || die "the schema changed after the loads"

int() { printf '%.0f' "$1"; }
med() { int "$(median ${R[$1]})"; }
medl() { int "$(median ${L[$1]})"; }
runs() { echo "${R[$1]# }"; }
echo "## seed at scale: \`arcdb seed --scale\` vs COPY through psql (the floor)"
echo
echo "$ORGS organizations, $TASKS tasks: $ROWS rows in 14 tables. $REPS runs per variant, alternating, each into the"
echo "same (TRUNCATEd) tables; rows/s (median). \"with ANALYZE\": wall time of the whole command (arcdb ANALYZEs after its"
echo "COMMIT; the floor runs the same ANALYZE); \"load\": BEGIN … COMMIT only (arcdb's own \`load_seconds\`, the floor's"
echo "psql transaction)."
echo
echo "| variant | rows/s with ANALYZE | rows/s load | runs (rows/s with ANALYZE) |"
echo "|---|---|---|---|"
echo "| \`arcdb seed --scale\` (binary COPY; drops and rebuilds keys, indexes, FKs) | $(med arcdb) | $(medl arcdb) | $(runs arcdb) |"
echo "| floor: psql, same drop / \\copy (text) / rebuild in one transaction | $(med floor) | $(medl floor) | $(runs floor) |"
echo "| \`arcdb seed --scale --keep-indexes\` (binary COPY into indexed tables) | $(med arcdb_keep) | $(medl arcdb_keep) | $(runs arcdb_keep) |"
echo "| floor: psql \\copy (text) into the indexed tables, one transaction | $(med floor_keep) | $(medl floor_keep) | $(runs floor_keep) |"
echo
R1=$(ratio "$(med arcdb)" "$(med floor)")
R2=$(ratio "$(med arcdb_keep)" "$(med floor_keep)")
echo "**Ratio arcdb / floor: ${R1}×** with ANALYZE, $(ratio "$(medl arcdb)" "$(medl floor)")× load only (target ≥ $TARGET×: $(verdict "$R1" "$TARGET" ge))."
echo "With indexes kept: ${R2}× with ANALYZE, $(ratio "$(medl arcdb_keep)" "$(medl floor_keep)")× load only. arcdb's default vs the plain"
echo "psql COPY into indexed tables (what a user would write): $(ratio "$(med arcdb)" "$(med floor_keep)")×."
echo
echo "Commands: \`arcdb --dsn '<dsn>' seed --scale --orgs $ORGS --tasks $TASKS [--keep-indexes] --format json\`;"
echo "dump after the first arcdb run: \`psql -c \"\\copy (SELECT <columns> FROM public.<table>) TO '<table>.copy'\"\` for each table;"
echo "floor: \`psql -X -q -v ON_ERROR_STOP=1 -f floor_<variant>.sql\` then \`psql -c 'ANALYZE <the 14 tables>'\`, where the script is"
echo
echo '```sql'
echo 'BEGIN;'
echo 'ALTER TABLE public.<table> DISABLE TRIGGER USER;               -- each of the 14 tables'
echo '-- rebuild only: ALTER TABLE … DROP CONSTRAINT <each FK>, then <each primary/unique key>; DROP INDEX <each other index>'
echo "\\copy public.<table> (<columns>) FROM '<table>.copy'          -- each table, parents first"
echo '-- rebuild only: CREATE INDEX … (pg_get_indexdef); ADD CONSTRAINT <keys>, COMMENT ON CONSTRAINT …; ADD CONSTRAINT <FKs> (validates)'
echo 'ALTER TABLE public.<table> ENABLE TRIGGER USER;                -- each table'
echo 'COMMIT;'
echo '```'
echo
echo "Both variants leave the schema exactly as before (\`pg_dump --schema-only\` compared)."
echo
