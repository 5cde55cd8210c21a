# shellcheck shell=bash
# Shared helpers of the arcdb benchmarks (sourced by bench/*.sh, never run directly).
#
# * A throwaway PostgreSQL cluster of the machine's binaries (ARCDB_PG_BIN, else the highest
#   /usr/lib/postgresql/*/bin, else `pg_config --bindir`, else initdb on PATH: the same order as
#   src/local.rs), run as the `postgres` OS user when root, in a fresh directory under
#   ${BENCH_TMP:-/tmp} that user can reach, removed on exit. When BENCH_PGHOST/BENCH_PGPORT are
#   exported (bench/run.sh does that), the scripts share that cluster instead of starting one.
# * Timing helpers (nanosecond wall clock, medians, ratios) and markdown output.
#
# Benchmarks print markdown on stdout (bench/run.sh collects it into bench/RESULTS.md) and
# progress on stderr.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
ARCDB=${ARCDB:-$REPO/target/release/arcdb}
QUICK=${BENCH_QUICK:-0}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --quick anywhere on the command line sets QUICK=1 (and is removed from "$@" by the caller).
for arg in "$@"; do
    if [ "$arg" = "--quick" ]; then QUICK=1; fi
done
export BENCH_QUICK=$QUICK

# ---------------------------------------------------------------------------------------------
# PostgreSQL binaries
# ---------------------------------------------------------------------------------------------
pg_bin_discover() {
    if [ -n "${ARCDB_PG_BIN:-}" ]; then
        [ -x "$ARCDB_PG_BIN/initdb" ] || die "ARCDB_PG_BIN=$ARCDB_PG_BIN has no initdb"
        echo "$ARCDB_PG_BIN"
        return
    fi
    local best="" best_key="" dir name key
    for dir in /usr/lib/postgresql/*/bin; do
        [ -x "$dir/initdb" ] || continue
        name=$(basename "$(dirname "$dir")")
        # 9.6 -> 0009000600, 15 -> 0015000000 (sortable as text)
        key=$(awk -F. '{ printf "%04d%04d", $1, ($2 == "" ? 0 : $2) }' <<<"$name")
        if [ -z "$best" ] || [[ "$key" > "$best_key" ]]; then
            best=$dir
            best_key=$key
        fi
    done
    if [ -n "$best" ]; then
        echo "$best"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir)
        if [ -x "$dir/initdb" ]; then
            echo "$dir"
            return
        fi
    fi
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    die "PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql or set ARCDB_PG_BIN"
}

PG_BIN=${PG_BIN:-$(pg_bin_discover)}
export ARCDB_PG_BIN=$PG_BIN
PSQL="$PG_BIN/psql"

# Client tools must not pick up a developer's connection settings.
unset PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS DATABASE_URL ARCDB_PROFILE \
    ARCDB_CONFIG PGDATA 2>/dev/null || true

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# ---------------------------------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------------------------------
BENCH_ROOT=""
OWN_CLUSTER=0
# Scratch files of this script (pgbench scripts and logs, COPY files), removed on exit.
BENCH_WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/arcdb-bench-work.XXXXXX")
chmod 755 "$BENCH_WORK"
on_exit() {
    cluster_stop
    rm -rf "$BENCH_WORK"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}

cluster_stop() {
    if [ "$OWN_CLUSTER" = 1 ] && [ -n "$BENCH_ROOT" ] && [ -d "$BENCH_ROOT" ]; then
        if [ -f "$BENCH_ROOT/data/postmaster.pid" ]; then
            as_postgres "$PG_BIN/pg_ctl" -D "$BENCH_ROOT/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$BENCH_ROOT"
        log "removed the throwaway cluster $BENCH_ROOT"
    fi
    BENCH_ROOT=""
}

# Start a throwaway cluster (or attach to the one in BENCH_PGHOST/BENCH_PGPORT) and remove it on exit.
# Settings: the PostgreSQL defaults (fsync and synchronous_commit on: benchmarks measure a
# durable database) except a bigger shared_buffers/max_wal_size so that a 1M-task load does not
# checkpoint constantly; both sides of every ratio run on the same server.
cluster_start() {
    if [ -n "${BENCH_PGHOST:-}" ]; then
        PGH=$BENCH_PGHOST
        PGP=$BENCH_PGPORT
        return
    fi
    local parent=${BENCH_TMP:-/tmp}
    BENCH_ROOT=$(mktemp -d "$parent/arcdb-bench.XXXXXX")
    chmod 755 "$BENCH_ROOT"
    OWN_CLUSTER=1
    mkdir -p "$BENCH_ROOT/data" "$BENCH_ROOT/run"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$BENCH_ROOT/data" "$BENCH_ROOT/run"
        touch "$BENCH_ROOT/postgres.log"
        chown postgres: "$BENCH_ROOT/postgres.log"
    fi
    chmod 700 "$BENCH_ROOT/run"
    as_postgres "$PG_BIN/initdb" -D "$BENCH_ROOT/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust >"$BENCH_ROOT/initdb.log" 2>&1 ||
        die "initdb failed: $(tail -3 "$BENCH_ROOT/initdb.log")"
    PGP=$(free_port)
    PGH=$BENCH_ROOT/run
    # BENCH_TCP=1: also listen on 127.0.0.1, trusted like the socket (DSNs as users type them).
    local listen=""
    if [ "${BENCH_TCP:-0}" = 1 ]; then
        listen=127.0.0.1
        echo "host all all 127.0.0.1/32 trust" >>"$BENCH_ROOT/data/pg_hba.conf"
    fi
    cat >>"$BENCH_ROOT/data/postgresql.conf" <<EOF
port = $PGP
unix_socket_directories = '$PGH'
unix_socket_permissions = 0700
listen_addresses = '$listen'
shared_buffers = ${BENCH_SHARED_BUFFERS:-512MB}
max_wal_size = 8GB
checkpoint_timeout = 30min
max_connections = 60
EOF
    as_postgres "$PG_BIN/pg_ctl" -D "$BENCH_ROOT/data" -l "$BENCH_ROOT/postgres.log" -w -t 60 start >/dev/null ||
        die "pg_ctl start failed: $(tail -5 "$BENCH_ROOT/postgres.log")"
    log "throwaway cluster $("$PG_BIN/postgres" --version | awk '{print $3}') in $BENCH_ROOT (port $PGP)"
}

# Turn ssl=on in the running throwaway cluster with a CA and a server certificate for
# 127.0.0.1/localhost made here with openssl; sets BENCH_CA (the CA's PEM, for sslrootcert).
cluster_enable_tls() {
    [ "$OWN_CLUSTER" = 1 ] || die "cluster_enable_tls needs a cluster of this script"
    command -v openssl >/dev/null || die "openssl is missing: apt-get install openssl"
    local d=$BENCH_ROOT/tls
    mkdir -p "$d"
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=arcdb bench CA"
        openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext
    ) >"$d/openssl.log" 2>&1 || die "openssl failed: $(tail -3 "$d/openssl.log")"
    chmod 600 "$d/server.key"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$d"; fi
    q postgres -c "ALTER SYSTEM SET ssl_cert_file = '$d/server.pem'" \
        -c "ALTER SYSTEM SET ssl_key_file = '$d/server.key'" -c "ALTER SYSTEM SET ssl = on" \
        -c "SELECT pg_reload_conf()" >/dev/null
    BENCH_CA=$d/ca.pem
    local i
    for i in $(seq 50); do
        if "$PSQL" -X -q -A -t -d "postgresql://postgres@127.0.0.1:$PGP/postgres?sslmode=require" -c 'SELECT 1' >/dev/null 2>&1; then
            log "ssl = on (self-signed CA $BENCH_CA)"
            return
        fi
        sleep 0.2
    done
    die "the server did not come up with ssl = on (see $BENCH_ROOT/postgres.log)"
}

# key=value DSN of database $1 over the cluster's socket.
dsn() { echo "host=$PGH port=$PGP user=postgres dbname=$1"; }

# psql as the superuser on database $1, quiet, stop on error; extra args follow.
q() {
    local db=$1
    shift
    "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGH" -p "$PGP" -U postgres -d "$db" "$@"
}

# Drop and create database $1.
fresh_db() {
    q postgres -c "DROP DATABASE IF EXISTS \"$1\"" -c "CREATE DATABASE \"$1\""
}

arcdb() { "$ARCDB" --dsn "$(dsn "$1")" "${@:2}"; }

db_exists() { [ "$(q postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$1'")" = 1 ]; }

# Make database $1 hold exactly one scale load of $2 organizations and $3 tasks (arcdb up +
# arcdb seed --scale), reusing it when an earlier script of the same run already made it.
# Sets SEED_SECONDS / SEED_ROWS when it loads (empty when reused).
ensure_scale_db() {
    local db=$1 orgs=$2 tasks=$3 have
    SEED_SECONDS=""
    SEED_ROWS=""
    if db_exists "$db"; then
        have=$(q "$db" -c "SELECT (SELECT count(*) FROM organizations WHERE settings ? 'arcdb_scale') || '/' || (SELECT count(*) FROM tasks)" 2>/dev/null || true)
        if [ "$have" = "$orgs/$tasks" ]; then
            log "reusing database $db ($orgs organizations, $tasks tasks)"
            return
        fi
    fi
    fresh_db "$db"
    arcdb "$db" up >>"$BENCH_LOG" 2>&1 || die "arcdb up on $db failed"
    log "arcdb seed --scale --orgs $orgs --tasks $tasks into $db …"
    local t0 out
    t0=$(now_ns)
    out="$BENCH_WORK/seed-$db.json"
    arcdb "$db" seed --scale --orgs "$orgs" --tasks "$tasks" --format json >"$out" 2>>"$BENCH_LOG" ||
        die "arcdb seed --scale into $db failed (see ${BENCH_LOG})"
    SEED_SECONDS=$(awk -v ms="$(ms_since "$t0")" 'BEGIN { printf "%.1f", ms / 1000 }')
    SEED_ROWS=$(json_field "$out" total_rows)
    log "loaded $SEED_ROWS rows in $SEED_SECONDS s"
}

# Value of a top-level number/string field of a JSON file (no jq needed).
json_field() { grep -o "\"$2\": *[-0-9.e+]*" "$1" | head -1 | sed 's/.*: *//'; }

# ---------------------------------------------------------------------------------------------
# Timing and statistics
# ---------------------------------------------------------------------------------------------
now_ns() { date +%s%N; }
# ms since $1 (a now_ns value), with 3 decimals.
ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e6 }'; }

# Median of the numbers given as arguments.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.3f", a / b }'; }
# "yes"/"NO" for ratio $1 compared with target $2 using operator $3 (le / ge).
verdict() {
    awk -v r="$1" -v t="$2" -v op="$3" 'BEGIN {
        ok = (op == "le") ? (r <= t) : (r >= t); print ok ? "met" : "MISSED" }'
}

# Run a command, return (print) its wall time in ms; its output goes to $BENCH_LOG.
mkdir -p "$REPO/target/bench"
BENCH_LOG=${BENCH_LOG:-$REPO/target/bench/$(basename "$0" .sh).log}
export BENCH_LOG
timed() {
    local t0
    t0=$(now_ns)
    "$@" >>"$BENCH_LOG" 2>&1 || {
        log "command failed: $*"
        return 1
    }
    ms_since "$t0"
}

# Machine facts for the results header.
machine_line() {
    echo "$(nproc) CPU cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), \
$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, \
PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') ($PG_BIN), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
