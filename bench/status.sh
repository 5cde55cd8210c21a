#!/usr/bin/env bash
# status: `arcdb status` on an up-to-date database: wall time and peak RSS of the process
# (`/usr/bin/time -v`), with `psql -c 'SELECT … FROM arcdb.schema_history'` in the same run for
# scale (one connection, one query, print).
source "$(dirname "$0")/lib.sh"

REPS=${BENCH_STATUS_REPS:-15}
[ "$QUICK" = 1 ] && REPS=${BENCH_STATUS_REPS:-7}

if [ ! -x /usr/bin/time ]; then
    log "installing GNU time (/usr/bin/time -v)"
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq time >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
    fi
    [ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install time"
fi

cluster_start
fresh_db status_db
arcdb status_db up >>"$BENCH_LOG" 2>&1

# run_measured OUTVAR_PREFIX cmd…: wall ms (our clock) and max RSS KiB (time -v).
measure() {
    local t0 ms rss
    t0=$(now_ns)
    /usr/bin/time -v -o "$BENCH_WORK/time.txt" "$@" >>"$BENCH_LOG" 2>&1 || {
        # arcdb status exits 3/4 for pending/drift: the database must be up to date here.
        die "$* failed (see $BENCH_LOG)"
    }
    ms=$(ms_since "$t0")
    rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$BENCH_WORK/time.txt")
    echo "$ms $rss"
}

AW=()
AR=()
PW=()
PR=()
status_cmd=("$ARCDB" --dsn "$(dsn status_db)" status)
json_cmd=("$ARCDB" --dsn "$(dsn status_db)" status --format json)
notls_cmd=("$ARCDB" --dsn "$(dsn status_db) sslmode=disable" status)
psql_cmd=("$PSQL" -X -d "$(dsn status_db)" -c "SELECT version, name, checksum, applied_at FROM arcdb.schema_history ORDER BY version")
measure "${status_cmd[@]}" >/dev/null # warm-up
JW=()
JR=()
NW=()
NR=()
for ((i = 1; i <= REPS; i++)); do
    read -r w r <<<"$(measure "${status_cmd[@]}")"
    AW+=("$w")
    AR+=("$r")
    read -r w r <<<"$(measure "${json_cmd[@]}")"
    JW+=("$w")
    JR+=("$r")
    read -r w r <<<"$(measure "${notls_cmd[@]}")"
    NW+=("$w")
    NR+=("$r")
    read -r w r <<<"$(measure "${psql_cmd[@]}")"
    PW+=("$w")
    PR+=("$r")
done
q postgres -c "DROP DATABASE status_db"

echo "## status on an up-to-date database"
echo
echo "$REPS runs of each, interleaved; wall time (ms, median and range) and peak RSS (KiB, median, \`/usr/bin/time -v\`)."
echo
echo "| command | wall ms (median) | min–max | peak RSS KiB |"
echo "|---|---|---|---|"
range() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd'-' | sed 's/-/–/'; }
echo "| \`arcdb status\` | $(median "${AW[@]}") | $(range "${AW[@]}") | $(median "${AR[@]}") |"
echo "| \`arcdb status --format json\` | $(median "${JW[@]}") | $(range "${JW[@]}") | $(median "${JR[@]}") |"
echo "| \`arcdb status\` with \`sslmode=disable\` in the DSN (diagnostic) | $(median "${NW[@]}") | $(range "${NW[@]}") | $(median "${NR[@]}") |"
echo "| \`psql -c 'SELECT … FROM arcdb.schema_history'\` (reference) | $(median "${PW[@]}") | $(range "${PW[@]}") | $(median "${PR[@]}") |"
echo
echo "Ratio arcdb status / psql: $(ratio "$(median "${AW[@]}")" "$(median "${PW[@]}")")× wall, $(ratio "$(median "${AR[@]}")" "$(median "${PR[@]}")")× RSS."
echo
echo "With sslmode=disable arcdb skips building its TLS connector (which loads the system CA bundle even for a"
echo "unix-socket DSN): the difference between the first and the third row is that setup."
echo
echo "Commands: \`/usr/bin/time -v arcdb --dsn '<dsn>[ sslmode=disable]' status [--format json]\`,"
echo "\`/usr/bin/time -v psql -X -d '<dsn>' -c 'SELECT version, name, checksum, applied_at FROM arcdb.schema_history ORDER BY version'\`."
echo
