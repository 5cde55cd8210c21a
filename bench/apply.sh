#!/usr/bin/env bash
# apply: `arcdb up` on an empty database vs the floor, `psql -1 -f` of the same migration SQL
# (every migrations/NNNN_*/up.sql in order, concatenated) on an empty database. Every repetition
# gives each side a fresh database (created before the clock starts) and a CHECKPOINT right
# before it runs; the sides run in all 6 orders in turn. Wall time of the whole command (process
# start, connect, apply, exit). Target: the median of arcdb ≤ 1.2× the median of the floor.
source "$(dirname "$0")/lib.sh"

REPS=${BENCH_APPLY_REPS:-12}
[ "$QUICK" = 1 ] && REPS=${BENCH_APPLY_REPS:-6}
TARGET=1.2

cluster_start
ALL="$BENCH_WORK/all_up.sql"
for f in "$REPO"/migrations/[0-9][0-9][0-9][0-9]_*/up.sql; do
    cat "$f"
    echo
done >"$ALL"
NFILES=$(ls "$REPO"/migrations/[0-9][0-9][0-9][0-9]_*/up.sql | wc -l)

floor() { "$PSQL" -X -q -1 -v ON_ERROR_STOP=1 -d "$(dsn "$1")" -f "$ALL"; }
up() { arcdb "$1" up; }
# Diagnostic third side: the same with sslmode=disable (over the socket arcdb sets up no TLS
# for any sslmode, so the two should agree).
up_notls() { "$ARCDB" --dsn "$(dsn "$1") sslmode=disable" up; }

# Warm-up (not timed): the first run creates the cluster-wide role arcdesk_tenant, page cache.
fresh_db apply_warm_a
fresh_db apply_warm_b
timed up apply_warm_a >/dev/null
timed floor apply_warm_b >/dev/null
q postgres -c "DROP DATABASE apply_warm_a" -c "DROP DATABASE apply_warm_b"

A=()
F=()
N=()
# The three sides run in every order in turn (all 6 permutations), each right after a
# CHECKPOINT: no side is systematically first or last after the databases were created.
PERMS=("A F N" "F N A" "N A F" "A N F" "N F A" "F A N")
run_side() {
    q postgres -c CHECKPOINT
    case $1 in
    A) A+=("$(timed up apply_arcdb)") ;;
    F) F+=("$(timed floor apply_floor)") ;;
    N) N+=("$(timed up_notls apply_notls)") ;;
    esac
}
for ((i = 1; i <= REPS; i++)); do
    fresh_db apply_arcdb
    fresh_db apply_floor
    fresh_db apply_notls
    for side in ${PERMS[$(((i - 1) % 6))]}; do run_side "$side"; done
    log "apply $i/$REPS: arcdb ${A[-1]} ms, psql -1 -f ${F[-1]} ms, arcdb sslmode=disable ${N[-1]} ms"
done
# Both produced the same schema.
dump() { "$PG_BIN/pg_dump" --schema-only --exclude-schema=arcdb -d "$(dsn "$1")" | grep -v -e '^-- Dumped' -e '^\\restrict' -e '^\\unrestrict'; }
if ! diff <(dump apply_arcdb) <(dump apply_floor) >/dev/null; then
    log "warning: arcdb up and psql -1 -f produced different schemas"
fi
q postgres -c "DROP DATABASE apply_arcdb" -c "DROP DATABASE apply_floor" -c "DROP DATABASE apply_notls"

MA=$(median "${A[@]}")
MF=$(median "${F[@]}")
R=$(ratio "$MA" "$MF")
MN=$(median "${N[@]}")
echo "## apply: \`arcdb up\` on an empty database vs \`psql -1 -f\` (the floor)"
echo
echo "$REPS repetitions, each side on a fresh database right after a CHECKPOINT, the three sides in all 6 orders in turn;"
echo "wall time of the command (ms)."
echo
echo "| | median ms | all runs (ms) |"
echo "|---|---|---|"
echo "| \`arcdb up\` | $MA | ${A[*]} |"
echo "| \`psql -1 -f all_up.sql\` (floor) | $MF | ${F[*]} |"
echo "| \`arcdb up\` with \`sslmode=disable\` in the DSN (diagnostic) | $MN | ${N[*]} |"
echo
echo "**Ratio arcdb / floor: ${R}×** (target ≤ $TARGET×: $(verdict "$R" "$TARGET" le))."
echo "With sslmode=disable: $(ratio "$MN" "$MF")× (over a unix socket no TLS is set up for any sslmode; TCP and TLS: bench/peers.sh)."
echo
echo "Commands: \`arcdb --dsn '<dsn>' up\`, \`arcdb --dsn '<dsn> sslmode=disable' up\` and \`psql -X -q -1 -v ON_ERROR_STOP=1 -d '<dsn>' -f all_up.sql\`,"
echo "where all_up.sql is \`cat migrations/NNNN_*/up.sql\` ($NFILES files, $(wc -l <"$ALL") lines)."
echo
