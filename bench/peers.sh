#!/usr/bin/env bash
# peers: arcdb against sqlx-cli and refinery_cli in the same run, on N tiny migrations (each a
# CREATE TABLE and an INSERT) laid out for each tool, over
#   tcp          postgresql://postgres@127.0.0.1:PORT/db   (no sslmode: as users type it; the
#                server has no TLS yet, so prefer falls back to plaintext)
#   socket       the unix socket
#   require      sslmode=require against the same server with ssl = on (self-signed CA)
#   verify-full  sslmode=verify-full&sslrootcert=<the CA>
# Per N and transport: `up` on an empty database (x the floor, `psql -1 -f` of the same SQL),
# a no-op `up`, `status` (`sqlx migrate info`), `status --no-live` (the history only, what
# `sqlx migrate info` shows), and `psql -c 'SELECT 1'` on the same DSN;
# medians of the rounds, sides in a rotating order, each apply right after a CHECKPOINT.
#
# The peers are installed with `cargo install --locked` into bench/out/tools (kept between
# runs; several minutes the first time). refinery_cli knows sslmode disable/require only (its
# require verifies against the system roots: it runs with SSL_CERT_FILE=<the CA>) and no unix
# socket: those cells say n/a.
#
# On 2 shared cores one N = 1000 apply takes tens of seconds per side, so N = 1000 runs fewer
# rounds and only over TCP and the socket (TLS changes the connection, not the per-migration
# cost): about 30 minutes in all.
#
#   bench/peers.sh [--quick]     BENCH_PEERS_NS="10 100 1000", BENCH_PEERS_TLS_NS="10 100",
#                                BENCH_PEERS_ROUNDS=5, BENCH_PEERS_BIG_ROUNDS=3 (N >= 1000)
source "$(dirname "$0")/lib.sh"

NS=${BENCH_PEERS_NS:-10 100 1000}
TLS_NS=${BENCH_PEERS_TLS_NS:-10 100}
ROUNDS=${BENCH_PEERS_ROUNDS:-5}
BIG_ROUNDS=${BENCH_PEERS_BIG_ROUNDS:-3}
if [ "$QUICK" = 1 ]; then
    NS=${BENCH_PEERS_NS:-10 100}
    TLS_NS=${BENCH_PEERS_TLS_NS:-10}
    ROUNDS=${BENCH_PEERS_ROUNDS:-3}
fi
rounds_for() { if [ "$1" -ge 1000 ]; then echo "$BIG_ROUNDS"; else echo "$ROUNDS"; fi; }
SQLX_VERSION=0.9.0
REFINERY_VERSION=0.10.0
TOOLS=$BENCH_DIR/out/tools

# ---------------------------------------------------------------------------------------------
# The peers
# ---------------------------------------------------------------------------------------------
install_peer() { # crate version binary features
    local have
    have=$("$TOOLS/bin/$3" --version 2>/dev/null || true)
    if [[ "$have" == *"$2"* ]]; then return; fi
    log "cargo install $1 $2 into $TOOLS (several minutes on 2 cores) …"
    cargo install --locked --quiet --root "$TOOLS" "$1" --version "$2" --no-default-features \
        --features "$4" >>"$BENCH_LOG" 2>&1 || die "cargo install $1 failed (see $BENCH_LOG)"
}
mkdir -p "$TOOLS"
install_peer sqlx-cli "$SQLX_VERSION" sqlx postgres,native-tls
install_peer refinery_cli "$REFINERY_VERSION" refinery postgresql
SQLX=$TOOLS/bin/sqlx
REFINERY=$TOOLS/bin/refinery
[ -x "$ARCDB" ] || die "$ARCDB is missing: cargo build --release"

# ---------------------------------------------------------------------------------------------
# N migrations for each tool, and the floor's one file
# ---------------------------------------------------------------------------------------------
LAYOUT=$BENCH_WORK/layout
for n in $NS; do
    mkdir -p "$LAYOUT/$n/arcdb" "$LAYOUT/$n/sqlx" "$LAYOUT/$n/refinery"
    for ((i = 1; i <= n; i++)); do
        sql="CREATE TABLE bench_t$i (id integer PRIMARY KEY, note text NOT NULL);
INSERT INTO bench_t$i VALUES (1, 'migration $i');"
        v=$(printf %04d "$i")
        mkdir -p "$LAYOUT/$n/arcdb/${v}_m$i"
        printf '%s\n' "$sql" >"$LAYOUT/$n/arcdb/${v}_m$i/up.sql"
        printf 'DROP TABLE bench_t%s;\n' "$i" >"$LAYOUT/$n/arcdb/${v}_m$i/down.sql"
        printf '%s\n' "$sql" >"$LAYOUT/$n/sqlx/${v}_m$i.sql"
        printf '%s\n' "$sql" >"$LAYOUT/$n/refinery/V${i}__m$i.sql"
        printf '%s\n' "$sql"
    done >"$LAYOUT/$n/all.sql"
done
log "laid out $NS migrations for arcdb, sqlx-cli, refinery_cli and psql"

# ---------------------------------------------------------------------------------------------
# Transports: the DSN each tool gets for database $2
# ---------------------------------------------------------------------------------------------
# A cluster of its own (TCP, then TLS on), also under bench/run.sh's shared one.
unset BENCH_PGHOST BENCH_PGPORT
BENCH_TCP=1 cluster_start
TCP="postgresql://postgres@127.0.0.1:$PGP"
dsn_for() { # transport db tool -> DSN, or empty when the tool cannot use this transport
    local t=$1 db=$2 tool=$3
    case $t in
    tcp) echo "$TCP/$db" ;;
    socket)
        case $tool in
        sqlx) echo "postgresql://postgres@localhost/$db?host=$PGH&port=$PGP" ;;
        refinery) echo "" ;;
        *) echo "host=$PGH port=$PGP user=postgres dbname=$db" ;;
        esac
        ;;
    require) echo "$TCP/$db?sslmode=require" ;;
    verify-full)
        case $tool in
        refinery) echo "" ;;
        *) echo "$TCP/$db?sslmode=verify-full&sslrootcert=$BENCH_CA" ;;
        esac
        ;;
    esac
}

# Commands, run from the scratch directory (no sqlx.toml, refinery.toml or .env around).
apply_cmd() { # tool transport n db
    local d
    d=$(dsn_for "$2" "$4" "$1")
    case $1 in
    arcdb) echo "$ARCDB --dsn '$d' up --source $LAYOUT/$3/arcdb" ;;
    sqlx) echo "$SQLX migrate run --no-dotenv --source $LAYOUT/$3/sqlx -D '$d'" ;;
    refinery) echo "env REFINERY_URL='$d' SSL_CERT_FILE=${BENCH_CA:-} $REFINERY migrate -e REFINERY_URL -p $LAYOUT/$3/refinery" ;;
    floor) echo "$PSQL -X -q -1 -v ON_ERROR_STOP=1 -d '$d' -f $LAYOUT/$3/all.sql" ;;
    esac
}
status_cmd() { # tool transport n db
    local d
    d=$(dsn_for "$2" "$4" "$1")
    case $1 in
    arcdb) echo "$ARCDB --dsn '$d' status --source $LAYOUT/$3/arcdb" ;;
    sqlx) echo "$SQLX migrate info --no-dotenv --source $LAYOUT/$3/sqlx -D '$d'" ;;
    esac
}
cd "$BENCH_WORK"
run_ms() { # command string -> wall ms (output to the log)
    local t0
    t0=$(now_ns)
    bash -c "$1" >>"$BENCH_LOG" 2>&1 || {
        log "failed: $1"
        echo nan
        return
    }
    ms_since "$t0"
}

declare -A R # "transport n side what" -> space-separated ms of the rounds
add() { R["$1"]="${R["$1"]:-} $2"; }
SIDES=(arcdb sqlx refinery floor)

measure_transport() { # transport "N…"
    local t=$1 n r k side i rounds
    for n in $2; do
        rounds=$(rounds_for "$n")
        for ((r = 1; r <= rounds; r++)); do
            for side in "${SIDES[@]}"; do fresh_db "peers_$side"; done
            # Apply, in a rotating order, each right after a CHECKPOINT.
            for ((k = 0; k < ${#SIDES[@]}; k++)); do
                side=${SIDES[$(((k + r) % ${#SIDES[@]}))]}
                [ -n "$(dsn_for "$t" x "$side")" ] || continue
                q postgres -c CHECKPOINT
                add "$t $n $side apply" "$(run_ms "$(apply_cmd "$side" "$t" "$n" "peers_$side")")"
            done
            # Nothing to do: the same command again, and status.
            for side in arcdb sqlx refinery; do
                [ -n "$(dsn_for "$t" x "$side")" ] || continue
                add "$t $n $side noop" "$(run_ms "$(apply_cmd "$side" "$t" "$n" "peers_$side")")"
            done
            # arcdb's first status after an up builds the expected schema in a scratch database
            # (cached, with the catalog fingerprint): measured apart from the steady state.
            add "$t $n arcdb status_first" "$(run_ms "$(status_cmd arcdb "$t" "$n" peers_arcdb)")"
            for side in arcdb sqlx; do
                add "$t $n $side status" "$(run_ms "$(status_cmd "$side" "$t" "$n" "peers_$side")")"
            done
            # The like of `sqlx migrate info`: the history alone, no live schema.
            add "$t $n arcdb status_history" "$(run_ms "$(status_cmd arcdb "$t" "$n" peers_arcdb) --no-live")"
            add "$t $n psql select1" "$(run_ms "$PSQL -X -q -A -t -d '$(dsn_for "$t" peers_floor psql)' -c 'SELECT 1'")"
            # Every tool applied every migration.
            for side in "${SIDES[@]}"; do
                [ -n "$(dsn_for "$t" x "$side")" ] || continue
                i=$(q "peers_$side" -c "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\\_t%'")
                [ "$i" = "$n" ] || die "$side over $t left $i of $n tables (see $BENCH_LOG)"
            done
            log "$t N=$n round $r/$rounds: apply arcdb $(echo "${R["$t $n arcdb apply"]}" | awk '{print $NF}') ms, sqlx $(echo "${R["$t $n sqlx apply"]}" | awk '{print $NF}') ms, floor $(echo "${R["$t $n floor apply"]}" | awk '{print $NF}') ms"
        done
    done
    for side in "${SIDES[@]}"; do q postgres -c "DROP DATABASE IF EXISTS peers_$side"; done
}

med() { # key -> median, or n/a
    local v=${R["$1"]:-}
    if [ -z "$v" ] || [[ "$v" == *nan* ]]; then echo n/a; else median $v; fi
}
fmt_ratio() { # a b
    if [ "$1" = n/a ] || [ "$2" = n/a ]; then echo n/a; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; fi
}
fmt_ms() { if [ "$1" = n/a ]; then echo n/a; else awk -v a="$1" 'BEGIN { printf "%.0f", a }'; fi; }
per_migration() { # side n transport -> (apply - floor) / n, ms
    local a f
    a=$(med "$3 $2 $1 apply")
    f=$(med "$3 $2 floor apply")
    if [ "$a" = n/a ] || [ "$f" = n/a ]; then echo n/a; else awk -v a="$a" -v f="$f" -v n="$2" 'BEGIN { printf "%.2f", (a - f) / n }'; fi
}

table_for() { # transport "N…"
    local t=$1 NS=$2 n row
    local header="| |" rule="|---|"
    for n in $NS; do
        header+=" N = $n |"
        rule+="---:|"
    done
    echo "$header"
    echo "$rule"
    row="| floor \`psql -1 -f\` (ms) |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n floor apply")") |"; done
    echo "$row"
    for side in sqlx refinery arcdb; do
        case $side in
        sqlx) row="| apply, x floor: sqlx-cli $SQLX_VERSION |" ;;
        refinery) row="| refinery_cli $REFINERY_VERSION |" ;;
        arcdb) row="| arcdb |" ;;
        esac
        for n in $NS; do row+=" $(fmt_ratio "$(med "$t $n $side apply")" "$(med "$t $n floor apply")") |"; done
        echo "$row"
    done
    row="| per migration over the floor (ms): sqlx / refinery / arcdb |"
    for n in $NS; do row+=" $(per_migration sqlx "$n" "$t") / $(per_migration refinery "$n" "$t") / $(per_migration arcdb "$n" "$t") |"; done
    echo "$row"
    row="| no-op \`up\` (ms): sqlx / refinery / arcdb |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n sqlx noop")") / $(fmt_ms "$(med "$t $n refinery noop")") / $(fmt_ms "$(med "$t $n arcdb noop")") |"; done
    echo "$row"
    row="| \`status\` (ms): \`sqlx migrate info\` / arcdb |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n sqlx status")") / $(fmt_ms "$(med "$t $n arcdb status")") |"; done
    echo "$row"
    row="| arcdb \`status --no-live\` (ms; the history only, like \`sqlx migrate info\`) |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n arcdb status_history")") |"; done
    echo "$row"
    row="| arcdb's first \`status\` after \`up\` (ms; builds the expected schema in a scratch database) |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n arcdb status_first")") |"; done
    echo "$row"
    row="| \`psql -c 'SELECT 1'\` on the same DSN (ms) |"
    for n in $NS; do row+=" $(fmt_ms "$(med "$t $n psql select1")") |"; done
    echo "$row"
    row="| arcdb no-op \`up\` / \`status\` / \`status --no-live\`, x that psql |"
    for n in $NS; do row+=" $(fmt_ratio "$(med "$t $n arcdb noop")" "$(med "$t $n psql select1")") / $(fmt_ratio "$(med "$t $n arcdb status")" "$(med "$t $n psql select1")") / $(fmt_ratio "$(med "$t $n arcdb status_history")" "$(med "$t $n psql select1")") |"; done
    echo "$row"
}

measure_transport tcp "$NS"
measure_transport socket "$NS"
cluster_enable_tls
measure_transport require "$TLS_NS"
measure_transport verify-full "$TLS_NS"

echo "## peers: arcdb, sqlx-cli $SQLX_VERSION and refinery_cli $REFINERY_VERSION on N tiny migrations"
echo
echo "\`bench/peers.sh\` at $(date -u '+%Y-%m-%d %H:%M UTC'), arcdb at commit $(git -C "$REPO" rev-parse --short HEAD); $(machine_line)."
echo
echo "Each migration a \`CREATE TABLE\` and an \`INSERT\`, laid out for each tool; medians of"
echo "$ROUNDS rounds ($BIG_ROUNDS at N = 1000), the sides in a rotating order, each apply on a fresh database right after a CHECKPOINT; wall time"
echo "of the whole command. Floor: \`psql -1 -f\` of the same SQL in one file. Peers built with \`cargo install --locked\`"
echo "(sqlx-cli: \`--no-default-features --features postgres,native-tls\`; refinery_cli: \`--features postgresql\`)."
echo "refinery_cli has no status command, no unix socket and no verify-full; its \`sslmode=require\` verifies the"
echo "certificate against the system roots, so it runs with \`SSL_CERT_FILE\` set to the bench's CA."
for t in tcp socket require verify-full; do
    echo
    case $t in
    tcp) echo "### TCP, no sslmode (\`postgresql://postgres@127.0.0.1:PORT/db\`; the server has no TLS: prefer falls back)" ;;
    socket) echo "### Unix socket (\`host=/dir port=PORT\`)" ;;
    require) echo "### TCP, \`sslmode=require\`, server with \`ssl = on\` (self-signed CA)" ;;
    verify-full) echo "### TCP, \`sslmode=verify-full&sslrootcert=ca.pem\`, server with \`ssl = on\`" ;;
    esac
    echo
    case $t in
    tcp | socket) table_for "$t" "$NS" ;;
    *) table_for "$t" "$TLS_NS" ;;
    esac
done
echo
echo "All runs (ms), for the record:"
echo
echo '```'
for k in $(printf '%s\n' "${!R[@]}" | tr ' ' '|' | sort -t'|' -k1,1 -k2,2n -k3,3 -k4,4); do
    key=${k//|/ }
    echo "$key:${R["$key"]}"
done
echo '```'
echo
