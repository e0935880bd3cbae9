#!/usr/bin/env bash
# Reproducible benchmark of ngx_http_magic_token_module: "make bench".
#
# wrk on loopback against one nginx worker (keep-alive), proxying to a
# second, separate nginx that answers "ok" (keep-alive upstream):
#
#   (a) plain proxy_pass with a static Authorization header
#   (b) magic token, cache hit (magic_token_cache on, one token)
#   (c) magic token, cold path (magic_token_cache off: every request
#       verifies RS256, compiles "allowed", decrypts RSA-OAEP)
#   (c2) cache on, every request a token not in the cache (4000 tokens
#       round robin through a 1000-entry cache: miss + store + evict)
#   (d) every signature algorithm (no credential) and every credential
#       encryption (signed HS256) on the cold path
#
#   (m) magic_token_metrics: (b) with the requests counted in a zone,
#       against (b) itself, in rounds of their own (metrics_rounds)
#   (s) magic_token_scrub: the scrubber's cost per response KiB, core
#       only (scrub_bench, bench/mt_bench scrub)
#
# CPU layout: the worker under test alone on one CPU (worker_cpu_affinity),
# wrk and the upstream nginx on the other(s) (taskset / worker_cpu_affinity;
# with 3 CPUs or more each has its own).  Every wrk run reports how busy
# the worker was (its utime + stime from /proc/PID/stat over the run's wall
# time): below 90% the worker was not the bottleneck, and the run says so.
#
# (a), (b), (c), (c2) run interleaved, a b c c2 a b c c2 ..., in
# BENCH_ROUNDS rounds; the ratios to (a) and the added CPU are the median
# of the per-round values.  Then each (d) case once, the worker's RSS over
# BENCH_RSS_REQUESTS cache hits, and the same nginx under callgrind
# (single process) for the instructions per request of (a), (b), (c), (c2)
# and sig-RS256: load-independent, unlike requests/s and µs.  Last, the
# core without nginx (bench/mt_bench.c) and the bare OpenSSL operations,
# in µs and in instructions (callgrind).
#
# Settings (environment): BENCH_ROUNDS (5), BENCH_DURATION (s per run of
# a/b/c/c2 in each round; 4), BENCH_ALG_DURATION (s, each (d) case; 2),
# BENCH_CONNECTIONS (16), BENCH_RSS_REQUESTS (1000000),
# BENCH_CALLGRIND_REQUESTS (hits; 2000; the cold cases run a tenth),
# BENCH_CALLGRIND=0 skips callgrind, BENCH_CPUS ("worker wrk upstream" CPU
# numbers; "0 1 1" on 2 CPUs, "0 1 2" on more), BENCH_PORT (8480; +1 for
# the upstream), BENCH_OUT (build/bench), NGINX_BIN (/usr/sbin/nginx);
# BENCH_HOLD=N keeps nginx up N seconds after the rounds, e.g. for
# perf record -p WORKER.  BENCH_WRK=0: callgrind and the core only (no
# wrk, no RSS; about a minute).
# Results: $BENCH_OUT/results.md (and the raw wrk output next to it).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${MAGIC_TOKEN_MODULE:-$BUILD/ngx_http_magic_token_module.so}
CLI=$BUILD/magic-token
MTB=$BUILD/mt_bench
PORT=${BENCH_PORT:-8480}
UP_PORT=$((PORT + 1))
DUR=${BENCH_DURATION:-4}
ALG_DUR=${BENCH_ALG_DURATION:-2}
ROUNDS=${BENCH_ROUNDS:-5}
CONN=${BENCH_CONNECTIONS:-16}
RSS_REQUESTS=${BENCH_RSS_REQUESTS:-1000000}
CG_N=${BENCH_CALLGRIND_REQUESTS:-2000}
CALLGRIND=${BENCH_CALLGRIND:-1}
WRK=${BENCH_WRK:-1}
if [ -n "${BENCH_CPUS:-}" ]; then
    read -r CPU_W CPU_WRK CPU_UP <<< "$BENCH_CPUS"
elif [ "$(nproc)" -ge 3 ]; then
    CPU_W=0; CPU_WRK=1; CPU_UP=2
else
    CPU_W=0; CPU_WRK=1; CPU_UP=1
fi
# worker_cpu_affinity's bit mask of one CPU
mask() { printf '1%*s' "$1" '' | tr ' ' 0; }
OUT=${BENCH_OUT:-$BUILD/bench}

for f in "$MODULE" "$CLI" "$MTB"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "missing $f: run make bench" >&2; exit 1; }
done

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        echo "wrk is needed (apt-get install wrk)" >&2
        exit 1
    fi
fi

W=$(mktemp -d /tmp/mt-bench.XXXXXX)
mkdir -p "$OUT" "$W/keys" "$W/tok" "$W/up/logs" "$W/mt/logs"
RESULTS=$OUT/results.md
RAW=$OUT/wrk.log
: > "$RAW"

stop_nginx() {
    local pidfile=$1
    if [ -s "$pidfile" ]; then
        local pid
        pid=$(cat "$pidfile")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
}

cleanup() {
    stop_nginx "$W/mt/logs/nginx.pid"
    stop_nginx "$W/up/logs/nginx.pid"
    rm -rf "$W"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }

# ---- keys and tokens ------------------------------------------------------

log "keys and tokens in $W"
K=$W/keys
$CLI keygen --type rsa --bits 2048 --out "$K/rsa" >/dev/null
$CLI keygen --type ec --curve P-256 --out "$K/ec256" >/dev/null
$CLI keygen --type ec --curve P-384 --out "$K/ec384" >/dev/null
$CLI keygen --type ec --curve P-521 --out "$K/ec521" >/dev/null
$CLI keygen --type ed25519 --out "$K/ed" >/dev/null
$CLI keygen --type secret --out "$K/hs" >/dev/null

# oct keys for A128KW / A256KW / dir, marked for encryption
oct() {     # name bytes
    local k
    k=$(head -c "$2" /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    printf '{"keys":[{"kty":"oct","use":"enc","k":"%s"}]}\n' "$k" > "$K/$1.jwks"
}
oct oct16 16; oct oct32 32; oct oct64 64

CRED=$W/cred
printf 'ghp_BenchmarkCredential0123456789abcdef' > "$CRED"
STATIC="ghp_BenchmarkCredential0123456789abcdef"

mint() {    # name mint-args...
    local name=$1; shift
    $CLI mint --allowed 'GET /.*' --ttl 1d "$@" > "$W/tok/$name"
}

mint main --key "$K/rsa/private.pem" --alg RS256 --credential-file "$CRED"

# (d) cases: name | mint arguments | nginx key directives
CASES=()
case_add() { CASES+=("$1|$2|$3"); }

R="magic_token_key $K/rsa/private.pem;"
HS="magic_token_secret $K/hs/secret;"
# the enc-* cases: HS256 tokens carrying a credential; the secret must be
# allowed to sign credentials
HSC="magic_token_secret $K/hs/secret credentials;"
for a in RS256 RS384 RS512 PS256 PS384 PS512; do
    case_add "sig-$a" "--key $K/rsa/private.pem --alg $a --no-credential" "$R"
done
case_add sig-ES256 "--key $K/ec256/private.pem --alg ES256 --no-credential" \
    "magic_token_key $K/ec256/private.pem;"
case_add sig-ES384 "--key $K/ec384/private.pem --alg ES384 --no-credential" \
    "magic_token_key $K/ec384/private.pem;"
case_add sig-ES512 "--key $K/ec521/private.pem --alg ES512 --no-credential" \
    "magic_token_key $K/ec521/private.pem;"
case_add sig-EdDSA "--key $K/ed/private.pem --alg EdDSA --no-credential" \
    "magic_token_key $K/ed/private.pem;"
for a in HS256 HS384 HS512; do
    case_add "sig-$a" "--secret $K/hs/secret --alg $a --no-credential" "$HS"
done

E="--secret $K/hs/secret --alg HS256 --credential-file $CRED"
case_add enc-OAEP-b64 "$E --encrypt-to $K/rsa/private.pem" "$HSC $R"
case_add enc-RSA-OAEP "$E --encrypt-to $K/rsa/private.pem --jwe RSA-OAEP" "$HSC $R"
case_add enc-RSA-OAEP-256 "$E --encrypt-to $K/rsa/private.pem --jwe RSA-OAEP-256" "$HSC $R"
for a in ECDH-ES ECDH-ES+A128KW ECDH-ES+A256KW; do
    case_add "enc-$a" "$E --encrypt-to $K/ec256/private.pem --jwe $a" \
        "$HSC magic_token_key $K/ec256/private.pem;"
done
case_add enc-A128KW "$E --encrypt-to $K/oct16.jwks --jwe A128KW" \
    "$HSC magic_token_key $K/oct16.jwks;"
case_add enc-A256KW "$E --encrypt-to $K/oct32.jwks --jwe A256KW" \
    "$HSC magic_token_key $K/oct32.jwks;"
case_add enc-dir-A256GCM "$E --encrypt-to $K/oct32.jwks --jwe dir --enc A256GCM" \
    "$HSC magic_token_key $K/oct32.jwks;"
case_add enc-dir-A128GCM "$E --encrypt-to $K/oct16.jwks --jwe dir --enc A128GCM" \
    "$HSC magic_token_key $K/oct16.jwks;"
case_add enc-dir-A128CBC-HS256 "$E --encrypt-to $K/oct32.jwks --jwe dir --enc A128CBC-HS256" \
    "$HSC magic_token_key $K/oct32.jwks;"
case_add enc-dir-A256CBC-HS512 "$E --encrypt-to $K/oct64.jwks --jwe dir --enc A256CBC-HS512" \
    "$HSC magic_token_key $K/oct64.jwks;"

# a location of the nginx under test: magic_token on, KEYS (the RSA key
# when empty), DIRECTIVES, the credential forwarded to the upstream
mt_location() {     # path [keys] [directives]
    local keys=${2:-"magic_token_key $K/rsa/private.pem;"}
    printf '\n        location %s {\n            magic_token on;\n' "$1"
    printf '            %s\n' "$keys" ${3:+"$3"}
    printf '            proxy_set_header Authorization "Bearer $magic_token_credential";\n'
    printf '            proxy_set_header Connection "";\n'
    printf '            proxy_pass http://backend;\n        }'
}

ALG_LOCATIONS=""
for c in "${CASES[@]}"; do
    IFS='|' read -r name args keys <<< "$c"
    # shellcheck disable=SC2086
    mint "$name" $args
    ALG_LOCATIONS+=$(mt_location "/$name/" "$keys")
done

$MTB mint "$K/rsa/private.pem" 4000 > "$W/tok/churn"

# ---- chains and DPoP (callgrind) -------------------------------------------
#
# /ch/ (cache on) and /chc/ (off): a chain of 3 ES256 links over a root
# as "main" (RS256, RSA-OAEP credential); chains.new are chains over the
# same first 2 links, each with a new last link (the cached-prefix path,
# once chains.warm cached the prefix).  /dph/ (cache on) and /dpc/ (off):
# a DPoP-bound token as "main" with a fresh proof each request; both run
# a tenth of the hits' count (the proof dominates; and a worker's replay
# store without a zone, 256 KB, keeps about 2000 proofs for the window).

CH_N=$((CG_N / 10 + 20))
$MTB chains "$K/rsa/private.pem" "$CH_N" > "$W/tok/chains"
head -1 "$W/tok/chains" > "$W/tok/chain3"
sed -n '2,21p' "$W/tok/chains" > "$W/tok/chains.warm"
tail -n +22 "$W/tok/chains" > "$W/tok/chains.new"

CHAIN_LOCATIONS="$(mt_location /ch/ "" "magic_token_cache size=20000;")$(
    mt_location /chc/)$(
    mt_location /dph/ "" "magic_token_cache size=10000; magic_token_dpop on window=1h;")$(
    mt_location /dpc/ "" "magic_token_dpop on window=1h;")"

# proofs for the bound token: made just before callgrind (window=1h)
dpop_lists() {
    local n=$((CG_N + 20))
    $MTB dpoplist "$K/rsa/private.pem" "$n" http://bench/dph/x http://bench/dpc/x \
        > "$W/tok/dpop"
    head -n "$n" "$W/tok/dpop" > "$W/tok/dph"
    tail -n +$((n + 1)) "$W/tok/dpop" > "$W/tok/dpc"
    head -20 "$W/tok/dph" > "$W/tok/dph.warm"
    tail -n +21 "$W/tok/dph" > "$W/tok/dph.new"
    head -20 "$W/tok/dpc" > "$W/tok/dpc.warm"
    tail -n +21 "$W/tok/dpc" > "$W/tok/dpc.new"
}

cat > "$W/churn.lua" <<EOF
local tokens = {}
for line in io.lines("$W/tok/churn") do tokens[#tokens + 1] = line end
local i = 0
request = function()
    i = i % #tokens + 1
    return wrk.format("GET", "/c2/x", { ["Authorization"] = "Bearer " .. tokens[i] })
end
EOF

# ---- (m) magic_token_metrics on the cache-hit path -------------------------
#
# /bm/ is /b/ with its requests counted (magic_token_metrics, a zone and a
# log-phase handler); metrics_rounds runs (b) and (bm) interleaved, b bm b
# bm ..., BENCH_ROUNDS rounds of BENCH_DURATION s, and reports the median
# of the per-round ratios; metrics_callgrind their instructions/request.

METRICS_HTTP="magic_token_zone bench_metrics:1m;
    magic_token_zone bench_cache:8m;"
# /bz/ is /b/ with the shared level behind its cache (zone=): after the
# first request, a hit in the worker's own cache like (b)
METRICS_LOCATIONS="$(mt_location /bz/ "" "magic_token_cache zone=bench_cache size=10000;")$(
    mt_location /bm/ "" "magic_token_cache size=10000; magic_token_metrics zone=bench_metrics label=bench;")
        location = /metrics {
            magic_token_status;
        }"

metrics_rounds() {
    local round k rps wcpu busy r_b r_bm c_b c_bm
    local -a rps_b=() rps_bm=() ratios=() added=() busy_l=()
    run warm-bm /bm/x 1 "$W/tok/main" >/dev/null
    log "(m) (b) and (bm) interleaved: $ROUNDS rounds, ${DUR}s each"
    for round in $(seq "$ROUNDS"); do
        for k in b bm; do
            read -r _ rps _ _ wcpu busy < <(run "m$k-$round" "/$k/x" "$DUR" "$W/tok/main")
            if [ "$k" = b ]; then r_b=$rps; c_b=$wcpu; else r_bm=$rps; c_bm=$wcpu; fi
            busy_l+=("$busy")
        done
        rps_b+=("$r_b"); rps_bm+=("$r_bm")
        ratios+=("$(ratio "$r_bm" "$r_b")"); added+=("$(minus "$c_bm" "$c_b")")
        log "round $round: rps b $r_b bm $r_bm"
    done
    # every request counted: the zone's allowed count covers the rounds
    curl -s "http://127.0.0.1:$PORT/metrics" | grep -q \
        '^magic_token_requests_allowed_total{zone="bench_metrics",label="bench"} [1-9]' \
        || { echo "(bm): nothing counted" >&2; exit 1; }
    {
        echo
        echo "### (m) magic_token_metrics on the cache-hit path"
        echo
        echo "(b) and (bm) = (b) with magic_token_metrics (zone=, label=), $ROUNDS rounds of ${DUR}s, interleaved;"
        echo "medians; \"ratio\" is the median of the per-round (bm)/(b), \"added CPU\" of (bm) − (b)."
        echo
        echo "| (b) requests/s | (bm) requests/s | ratio (bm)/(b) | added CPU µs/req | worker busy % (min) |"
        echo "|---:|---:|---:|---:|---:|"
        echo "| $(median <<< "${rps_b[*]}") | $(median <<< "${rps_bm[*]}") | $(median <<< "${ratios[*]}") | $(median <<< "${added[*]}") | $(tr ' ' '\n' <<< "${busy_l[*]}" | sort -g | head -1) |"
    } >> "$RESULTS"
}

# chains and DPoP in instructions/request: CG_CH (hit, prefix, cold) and
# CG_DP (hit, cold); their table is written by bench_chains
chain_callgrind() {
    # (a) with the chain's 2.4 kB Authorization header, unused: what nginx
    # itself spends reading the longer header
    CG_CH_A=$(cg cha /a/x "$CG_N" chain3)
    CG_CH_HIT=$(cg chhit /ch/x "$CG_N" chain3)
    CG_CH_PRE=$(cg chpre /ch/x $((CG_N / 10)) chains.new --list)
    CG_CH_COLD=$(cg chcold /chc/x $((CG_N / 10)) chain3)
    CG_DP_HIT=$(cg dphit /dph/x $((CG_N / 10)) dph.new --list)
    CG_DP_COLD=$(cg dpcold /dpc/x $((CG_N / 10)) dpc.new --list)
}

metrics_callgrind() {
    local base b bm bz
    CG_CASES+=("bm /bm/x main" "bz /bz/x main")
    base=$(cg_run "$W/cg/base-m")
    CG_BASE=$base
    b=$(cg mb /b/x "$CG_N" main)
    bm=$(cg mbm /bm/x "$CG_N" main)
    bz=$(cg mbz /bz/x "$CG_N" main)
    CG_ROWS+="
| (bm) cache hit with magic_token_metrics | $bm | $(minus0 "$bm" "$CG_A") (+$(minus0 "$bm" "$b") to (b) in the same series: $b) |
| (bz) cache hit, the shared level (zone=) behind the worker's cache | $bz | $(minus0 "$bz" "$CG_A") (+$(minus0 "$bz" "$b") to (b) in the same series) |"
}

# ---- the two nginx --------------------------------------------------------

cat > "$W/up/nginx.conf" <<EOF2
worker_processes 1;
worker_cpu_affinity $(mask "$CPU_UP");
pid $W/up/logs/nginx.pid;
error_log $W/up/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$UP_PORT backlog=4096;
        location / { return 200 "ok\n"; }
    }
}
EOF2

# the body of the nginx under test; $W/mt/nginx.conf adds the process
# settings (a master and one pinned worker; one process under callgrind)
cat > "$W/mt/http.conf" <<EOF2
load_module $MODULE;
pid $W/mt/logs/nginx.pid;
error_log $W/mt/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $W/mt/body;
    proxy_temp_path $W/mt/proxy;
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
        keepalive_requests 100000000;
    }
    # upstream keep-alive; every location repeats Connection "" (a
    # location's proxy_set_header replaces the inherited ones)
    proxy_http_version 1.1;
    $METRICS_HTTP
    server {
        listen 127.0.0.1:$PORT backlog=4096;

        location /a/ {
            proxy_set_header Authorization "Bearer $STATIC";
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
$(mt_location /b/ "" "magic_token_cache size=10000;")$(
  mt_location /b5/ "" "magic_token_cache size=10000;")$(
  mt_location /b5u/ "" "magic_token_cache size=10000;")$(
  mt_location /c/)$(
  mt_location /c2/ "" "magic_token_cache size=1000;")
$ALG_LOCATIONS
$METRICS_LOCATIONS
$CHAIN_LOCATIONS
    }
}
EOF2

{
    echo "worker_processes 1;"
    echo "worker_cpu_affinity $(mask "$CPU_W");"
    echo "include $W/mt/http.conf;"
} > "$W/mt/nginx.conf"

# the same, one process (no master) in the foreground: for callgrind
{
    echo "master_process off;"
    echo "daemon off;"
    echo "include $W/mt/http.conf;"
} > "$W/mt/single.conf"

$NGINX -p "$W/up" -c "$W/up/nginx.conf" -e "$W/up/logs/error.log"
$NGINX -p "$W/mt" -c "$W/mt/nginx.conf" -e "$W/mt/logs/error.log"
sleep 0.5

MASTER=$(cat "$W/mt/logs/nginx.pid")
WORKER=$(ps -o pid= --ppid "$MASTER" | head -1 | tr -d ' ')
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$WORKER/status"; }
# the worker's user + system CPU time, in clock ticks
cpu() { awk '{ print $14 + $15 }' "/proc/$WORKER/stat"; }
HZ=$(getconf CLK_TCK)

check() {   # path token-file
    local body
    body=$(curl -sS -H "Authorization: Bearer $(cat "$2")" "http://127.0.0.1:$PORT$1")
    [ "$body" = "ok" ] || { echo "$1: unexpected answer: $body" >&2; tail "$W/mt/logs/error.log" >&2; exit 1; }
}

# ---- wrk ------------------------------------------------------------------

# run name path duration [token-file | lua-script]: prints
# "requests rps p50_ms p99_ms worker_cpu_us_per_request worker_busy_%"
# and appends wrk's output to $RAW
run() {
    local name=$1 path=$2 dur=$3 arg=${4:-} out cpu0 cpu1 t0 t1
    local -a extra=()
    if [[ "$arg" == *.lua ]]; then
        extra=(-s "$arg")
    elif [ -n "$arg" ]; then
        extra=(-H "Authorization: Bearer $(cat "$arg")")
    fi
    cpu0=$(cpu); t0=$(date +%s.%N)
    out=$(taskset -c "$CPU_WRK" wrk -t1 -c"$CONN" -d"${dur}s" --latency \
              "${extra[@]}" "http://127.0.0.1:$PORT$path")
    cpu1=$(cpu); t1=$(date +%s.%N)
    printf '### %s\n%s\n\n' "$name" "$out" >> "$RAW"
    if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
        echo "$name: errors:" >&2; echo "$out" >&2; exit 1
    fi
    awk -v ticks=$((cpu1 - cpu0)) -v hz="$HZ" -v wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" '
        function ms(v) {
            if (v ~ /us$/) return v / 1000;
            if (v ~ /ms$/) return v + 0;
            if (v ~ /s$/)  return v * 1000;
            return v
        }
        /requests in/     { n = $1 }
        /Requests\/sec:/  { r = $2 }
        $1 == "50.000%" || $1 == "50%" { p50 = ms($2) }
        $1 == "99.000%" || $1 == "99%" { p99 = ms($2) }
        END { printf "%d %.1f %.3f %.3f %.2f %.0f\n", n, r, p50, p99,
                     ticks * 1e6 / hz / n, 100 * ticks / hz / wall }' <<< "$out"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) printf "%s", v[(NR + 1) / 2];
          else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", x / y }'; }
minus() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x - y }'; }
minus0() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.0f", x - y }'; }

if [ "$WRK" = 1 ]; then

check /a/x "$W/tok/main"
check /b/x "$W/tok/main"
check /c/x "$W/tok/main"
check /c2/x "$W/tok/main"
for c in "${CASES[@]}"; do
    IFS='|' read -r name _ _ <<< "$c"
    check "/$name/x" "$W/tok/$name"
done

# a short warm-up of every path
run warm-a /a/x 1 "$W/tok/main" >/dev/null
run warm-b /b/x 1 "$W/tok/main" >/dev/null

MAIN_CASES="a b c c2"
declare -A RPS_L CPU_L BUSY_L P50_L P99_L RATIO_L ADD_L
arg_of() { [ "$1" = c2 ] && echo "$W/churn.lua" || echo "$W/tok/main"; }

log "(a) (b) (c) (c2) interleaved: $ROUNDS rounds, ${DUR}s each, $CONN connections;" \
    "CPUs: worker $CPU_W, wrk $CPU_WRK, upstream $CPU_UP"
RSS_C2_0=""
for round in $(seq "$ROUNDS"); do
    declare -A R_RPS=() R_CPU=()
    for k in $MAIN_CASES; do
        read -r _ rps p50 p99 wcpu busy < <(run "$k-$round" "/$k/x" "$DUR" "$(arg_of "$k")")
        R_RPS[$k]=$rps; R_CPU[$k]=$wcpu
        RPS_L[$k]+=" $rps"; CPU_L[$k]+=" $wcpu"; BUSY_L[$k]+=" $busy"
        P50_L[$k]+=" $p50"; P99_L[$k]+=" $p99"
    done
    for k in $MAIN_CASES; do
        RATIO_L[$k]+=" $(ratio "${R_RPS[$k]}" "${R_RPS[a]}")"
        ADD_L[$k]+=" $(minus "${R_CPU[$k]}" "${R_CPU[a]}")"
    done
    log "round $round: rps a ${R_RPS[a]} b ${R_RPS[b]} c ${R_RPS[c]} c2 ${R_RPS[c2]};" \
        "busy% ${BUSY_L[a]##* } ${BUSY_L[b]##* } ${BUSY_L[c]##* } ${BUSY_L[c2]##* }"
done
A_RPS=$(median <<< "${RPS_L[a]}")
A_CPU=$(median <<< "${CPU_L[a]}")

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)

describe() {    # case label
    local k=$1 busy_min
    busy_min=$(tr ' ' '\n' <<< "${BUSY_L[$k]}" | grep . | sort -g | head -1)
    printf '| %s | %s | %s | %s | %s | %s | %s | %s (min %s)%s |\n' "$2" \
        "$(median <<< "${RPS_L[$k]}")" "$(median <<< "${P50_L[$k]}")" \
        "$(median <<< "${P99_L[$k]}")" "$(median <<< "${RATIO_L[$k]}")" \
        "$(median <<< "${CPU_L[$k]}")" \
        "$([ "$k" = a ] && echo — || median <<< "${ADD_L[$k]}")" \
        "$(median <<< "${BUSY_L[$k]}")" "$busy_min" \
        "$(awk -v b="$busy_min" 'BEGIN { if (b < 90) printf " **not saturated**" }')"
}

{
    echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);"
    echo "$($NGINX -v 2>&1 | sed 's/.*: //'), $(openssl version | cut -d' ' -f1-2), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }')."
    echo "wrk -t1 -c$CONN, keep-alive; 1 nginx worker; upstream: a separate nginx (1 worker) answering \"ok\", keep-alive."
    echo "CPUs: the worker under test on CPU $CPU_W (worker_cpu_affinity), wrk on CPU $CPU_WRK (taskset), the upstream on CPU $CPU_UP."
    echo "Load average at the end of the rounds: $LOADAVG (other processes on the machine share the CPUs)."
    echo
    echo "$ROUNDS rounds of (a) (b) (c) (c2), ${DUR}s each, interleaved; every column is the median over the rounds,"
    echo "\"ratio to (a)\" and \"added CPU\" the median of the per-round values. \"worker CPU\": the worker's user + system"
    echo "time per request (/proc/PID/stat); \"busy\": that time over the run's wall time (below 90% the worker"
    echo "was not the bottleneck and the ratio understates the module's cost)."
    echo
    echo "| case | requests/s | p50 ms | p99 ms | ratio to (a) | worker CPU µs/req | added CPU µs/req | worker busy % |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    describe a "(a) plain proxy_pass, static Authorization (the client sends the same token, unused)"
    describe b "(b) magic token, cache hit"
    describe c "(c) magic token, cold (cache off): RS256 + RSA-OAEP credential"
    describe c2 "(c2) cache on, every request a new token (4000 tokens, size=1000)"
} > "$RESULTS"

metrics_rounds

if [ -n "${BENCH_HOLD:-}" ]; then
    log "holding: worker $WORKER, port $PORT; token $W/tok/main"
    cp "$W/tok/main" "$OUT/token"
    sleep "$BENCH_HOLD"
fi

# ---- (d) ------------------------------------------------------------------

log "(d) ${#CASES[@]} algorithms, ${ALG_DUR}s each"
{
    echo
    echo "### (d) every algorithm on the cold path (cache off)"
    echo
    echo "sig-*: token signed with that algorithm, no credential; enc-*: signed HS256, credential encrypted with that algorithm."
    echo "\"core µs\" is the same verification without nginx (bench/mt_bench core: verify + authorize + decrypt)."
    echo "One run each; the ratio is to the median (a) of the rounds."
    echo
    echo "| case | requests/s | p50 ms | p99 ms | ratio to (a) | added CPU µs/req | worker busy % | core µs |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >> "$RESULTS"

for c in "${CASES[@]}"; do
    IFS='|' read -r name _ keys <<< "$c"
    read -r _ rps p50 p99 wcpu busy < <(run "$name" "/$name/x" "$ALG_DUR" "$W/tok/$name")
    # the same keys for the core benchmark
    kargs=()
    for w in $keys; do
        case $w in
            magic_token_key) mode=key ;;
            magic_token_secret) mode=secret ;;
            credentials\;) ;;
            *) w=${w%;}; [ "$mode" = secret ] && w="secret:$w"; kargs+=("$w") ;;
        esac
    done
    core=$($MTB core 1 "$W/tok/$name" "${kargs[@]}" | awk '{ print $3 }')
    echo "| $name | $rps | $p50 | $p99 | $(ratio "$rps" "$A_RPS") | $(minus "$wcpu" "$A_CPU") | $busy | $core |" >> "$RESULTS"
done

# ---- RSS ------------------------------------------------------------------

# 10 s blocks until $RSS_REQUESTS requests; RSS a second after each
rss_run() {     # path; sets RSS_LOG and TOTAL
    local n
    TOTAL=0
    RSS_LOG=""
    while [ "$TOTAL" -lt "$RSS_REQUESTS" ]; do
        read -r n _ < <(run rss "$1" 10 "$W/tok/main")
        TOTAL=$((TOTAL + n))
        sleep 1
        RSS_LOG+=" $(rss)"
    done
}

log "RSS: (b) then (a), $RSS_REQUESTS requests each"
sleep 1
RSS_0=$(rss)
rss_run /b/x
RSS_1=$(rss); RSS_B_LOG=$RSS_LOG; RSS_B_TOTAL=$TOTAL
rss_run /a/x
RSS_A_LOG=$RSS_LOG; RSS_A_TOTAL=$TOTAL

fi   # WRK

stop_nginx "$W/mt/logs/nginx.pid"

# per entry: a fresh nginx (the allocator holds no freed memory yet), RSS
# before and after 10000 distinct tokens stored in /b/'s size=10000 cache
log "RSS per cache entry: 10000 tokens through /b/ of a fresh worker"
$MTB mint "$K/rsa/private.pem" 10000 > "$W/tok/many"
$NGINX -p "$W/mt" -c "$W/mt/nginx.conf" -e "$W/mt/logs/error.log"
sleep 0.5
MASTER=$(cat "$W/mt/logs/nginx.pid")
WORKER=$(ps -o pid= --ppid "$MASTER" | head -1 | tr -d ' ')
perl "$ROOT/bench/requests.pl" "$PORT" /b/x 20 "$W/tok/main"
sleep 1; RSS_E0=$(rss)
perl "$ROOT/bench/requests.pl" "$PORT" /b/x 10000 "$W/tok/many" --list
sleep 1; RSS_E1=$(rss)
TOK_LEN=$(head -1 "$W/tok/many" | tr -d '\n' | wc -c)
# the same with 1.2 kB tokens of 5 "allowed" entries, in /b5/'s cache
$MTB mint5 "$K/rsa/private.pem" 10000 > "$W/tok/many5"
perl "$ROOT/bench/requests.pl" "$PORT" /b5/x 10000 "$W/tok/many5" --list
sleep 1; RSS_E2=$(rss)
TOK5_LEN=$(head -1 "$W/tok/many5" | tr -d '\n' | wc -c)
# 10000 chains over the same first 2 links, each a new last link: one
# entry each in /ch/'s size=20000 cache
$MTB chains "$K/rsa/private.pem" 10000 > "$W/tok/manychains"
perl "$ROOT/bench/requests.pl" "$PORT" /ch/x 10000 "$W/tok/manychains" --list
sleep 1; RSS_E3=$(rss)
LINK_LEN=$(head -1 "$W/tok/manychains" | tr -d '\n' | awk -F'~' '{ print length($NF) }')
# the worst case: 5 "allowed" entries of their own in every token (the
# fourth names the token), nothing shared, in /b5u/'s cache
$MTB mint5u "$K/rsa/private.pem" 10000 > "$W/tok/many5u"
perl "$ROOT/bench/requests.pl" "$PORT" /b5u/x 10000 "$W/tok/many5u" --list
sleep 1; RSS_E4=$(rss)
TOK5U_LEN=$(head -1 "$W/tok/many5u" | tr -d '\n' | wc -c)

if [ "$WRK" != 1 ]; then
    echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC')), BENCH_WRK=0: callgrind and the core only" > "$RESULTS"
fi

stop_nginx "$W/mt/logs/nginx.pid"

# ---- callgrind ------------------------------------------------------------

CG_ROWS=""
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    log "callgrind: instructions per request"
    mkdir -p "$W/cg"

    # the nginx under test, one process under callgrind: the warm-up of
    # every case, then COUNT requests of one case; the instructions of
    # the whole run (start, warm-up, exit) minus those of a run with the
    # warm-up only, divided by COUNT
    CG_CASES=("a /a/x main" "b /b/x main" "c /c/x main"
              "sigrs256 /sig-RS256/x sig-RS256" "c2 /c2/x churnwarm --list"
              "ch /ch/x chain3" "chc /chc/x chain3"
              "chp /ch/x chains.warm --list" "dph /dph/x dph.warm --list"
              "dpc /dpc/x dpc.warm --list")
    dpop_lists
    # the warm-up's c2 tokens are not those of the measured run
    tail -20 "$W/tok/churn" > "$W/tok/churnwarm"
    cg_run() {      # out-file [path count token-file [--list]]
        local out=$1; shift
        taskset -c "$CPU_W" valgrind --tool=callgrind --vgdb=no \
            --callgrind-out-file="$out" \
            "$NGINX" -p "$W/mt" -c "$W/mt/single.conf" -e "$W/mt/logs/error.log" \
            2>> "$W/cg/valgrind.log" &
        local vg=$! c
        for _ in $(seq 150); do
            curl -s -o /dev/null "http://127.0.0.1:$PORT/nothing" && break
            sleep 0.2
        done
        for c in "${CG_CASES[@]}"; do
            read -r _ p t l <<< "$c"
            perl "$ROOT/bench/requests.pl" "$PORT" "$p" 20 "$W/tok/$t" $l
        done
        if [ $# -gt 0 ]; then
            perl "$ROOT/bench/requests.pl" "$PORT" "$1" "$2" "$W/tok/$3" ${4:-}
        fi
        kill -QUIT "$vg"; wait "$vg" || true
        awk '/^summary:/ { print $2 }' "$out"
    }
    CG_BASE=$(cg_run "$W/cg/base")
    cg() {          # name path count token [--list]: instructions/request
        local total
        total=$(cg_run "$W/cg/$1" "$2" "$3" "$4" "${5:-}")
        awk -v t="$total" -v b="$CG_BASE" -v n="$3" 'BEGIN { printf "%.0f", (t - b) / n }'
    }

    CG_A=$(cg a /a/x "$CG_N" main)
    CG_B=$(cg b /b/x "$CG_N" main)
    CG_C=$(cg c /c/x $((CG_N / 10)) main)
    CG_S=$(cg sigrs256 /sig-RS256/x $((CG_N / 10)) sig-RS256)
    # 4000 tokens through 1000 entries: every request a miss
    CG_C2=$(cg c2 /c2/x $((CG_N / 10)) churn --list)

    CG_ROWS="| (a) plain proxy_pass | $CG_A | — |
| (b) magic token, cache hit | $CG_B | $(minus0 "$CG_B" "$CG_A") |
| (c) magic token, cold: RS256 + RSA-OAEP credential | $CG_C | $(minus0 "$CG_C" "$CG_A") |
| sig-RS256: signature only (no credential), cold | $CG_S | $(minus0 "$CG_S" "$CG_A") |
| (c2) cache miss + store + evict | $CG_C2 | $(minus0 "$CG_C2" "$CG_A") |"
    chain_callgrind
    metrics_callgrind
fi

# ---- magic_token_scrub: the cost per response KiB --------------------------

# the scrubber alone (bench/mt_bench scrub), 8 KiB slices as the filter
# feeds it: a body without the credential, and one with it every KiB
scrub_bench() {
    local out clean echo
    log "scrub: cost per response KiB"
    out=$($MTB scrub 2)
    clean=$(awk '/scrub-clean/ { print $3 }' <<< "$out")
    echo=$(awk '/scrub-echo/ { print $3 }' <<< "$out")
    {
        echo
        echo "### magic_token_scrub: cost per response KiB (core, no nginx)"
        echo
        echo "mt_scrub_feed() over a 1 MiB JSON-like body in 8 KiB slices, the"
        echo "patterns of a 39-byte GitHub-style credential; the filter adds a copy"
        echo "per slice and its buffer handling."
        echo
        echo "| body | µs per KiB |"
        echo "|---|---:|"
        echo "| without the credential | $clean |"
        echo "| the credential every KiB | $echo |"
    } >> "$RESULTS"
}

scrub_bench

# ---- the core and OpenSSL alone --------------------------------------------

log "core and raw OpenSSL"
CORE=$($MTB core 3 "$W/tok/main" "$K/rsa/private.pem")
RAWS=$($MTB raw 3 "$K/rsa/private.pem" "$W/tok/main")
core_us=$(awk '{ print $3 }' <<< "$CORE")
raw_v=$(awk '/verify/ { print $3 }' <<< "$RAWS")
raw_d=$(awk '/decrypt/ { print $3 }' <<< "$RAWS")
raw_sum=$(awk -v a="$raw_v" -v b="$raw_d" 'BEGIN { printf "%.1f", a + b }')
nginx_c=—
[ "$WRK" = 1 ] && nginx_c=$(minus "$(median <<< "${CPU_L[c]}")" "$A_CPU")

# the same in instructions: "mt_bench raw 0" does one batch (50 verify,
# 5 decrypt), "core 0" 50 tokens; callgrind's inclusive cost per call
CG_RAW=""
if [ -n "$CG_ROWS" ]; then
    valgrind --tool=callgrind --callgrind-out-file="$W/cg/raw" \
        "$MTB" raw 0 "$K/rsa/private.pem" "$W/tok/main" >/dev/null 2>&1
    valgrind --tool=callgrind --callgrind-out-file="$W/cg/core" \
        "$MTB" core 0 "$W/tok/main" "$K/rsa/private.pem" >/dev/null 2>&1
    incl() {    # file function calls
        callgrind_annotate --inclusive=yes "$1" 2>/dev/null \
            --auto=no | awk -v f="$2" -v n="$3" '{ gsub(",", "", $1) }
                  $0 ~ (":" f " ") { s += $1 }
                  END { printf "%.0f", s / n }'
    }
    cg_v=$(( $(incl "$W/cg/raw" EVP_DigestVerifyInit 50) + $(incl "$W/cg/raw" EVP_DigestVerify 50) ))
    cg_d=$(( $(incl "$W/cg/raw" EVP_PKEY_CTX_new 5) + $(incl "$W/cg/raw" EVP_PKEY_decrypt_init 5) \
           + $(incl "$W/cg/raw" EVP_PKEY_CTX_set_rsa_padding 5) + $(incl "$W/cg/raw" EVP_PKEY_CTX_set_rsa_oaep_md 5) \
           + $(incl "$W/cg/raw" EVP_PKEY_CTX_set_rsa_mgf1_md 5) + $(incl "$W/cg/raw" EVP_PKEY_decrypt 5) \
           + $(incl "$W/cg/raw" EVP_PKEY_CTX_free 5) ))
    cg_core=$(( $(incl "$W/cg/core" mt_token_verify 50) + $(incl "$W/cg/core" mt_token_authorize 50) \
              + $(incl "$W/cg/core" mt_token_decrypt 50) + $(incl "$W/cg/core" mt_token_clear 50) ))
    CG_RAW="$cg_v $cg_d $((cg_v + cg_d)) $cg_core"
fi

SPEED=$(openssl speed -seconds 1 rsa2048 ecdsap256 ecdsap384 ecdsap521 ed25519 2>/dev/null \
        | grep -E '^(rsa|[ ]*[0-9]+ bits (ecdsa|EdDSA)|.*ed25519)' || true)

{
    if [ -n "$CG_ROWS" ]; then
        echo
        echo "### Instructions per request (callgrind)"
        echo
        echo "The same configuration, one nginx process (master_process off) under valgrind --tool=callgrind,"
        echo "bench/requests.pl sending keep-alive requests one after another (every answer checked);"
        echo "one run with 20 warm-up requests of each case, then for each case a run with the same warm-up and"
        echo "$CG_N more requests ((a), (b)) or $((CG_N / 10)) (the others): instructions/req = (run − warm-up run) / requests."
        echo "Independent of the load on the machine."
        echo
        echo "| case | instructions/req | added to (a) |"
        echo "|---|---:|---:|"
        echo "$CG_ROWS"
    fi
    [ "$WRK" = 1 ] && {
    echo
    echo "### Worker memory"
    echo
    echo "| when | VmRSS kB |"
    echo "|---|---:|"
    echo "| after warm-up, (a)–(c2) and (d) | $RSS_0 |"
    echo "| after $RSS_B_TOTAL more cache-hit requests ((b)) | $RSS_1 |"
    echo
    echo "RSS a second after each 10 s block of (b):$RSS_B_LOG kB."
    echo "The same for (a), no magic token, $RSS_A_TOTAL requests, as a control:$RSS_A_LOG kB."
    }
    echo
    echo "### Memory per cache entry"
    echo
    echo "A fresh nginx; its worker's VmRSS after 20 requests: $RSS_E0 kB; after 10000 new tokens stored in the"
    echo "size=10000 cache of /b/ ($TOK_LEN-byte RS256 tokens, RSA-OAEP credential, one \"allowed\" rule, a jti): $RSS_E1 kB."
    echo "Per entry: **$(awk -v a="$RSS_E0" -v b="$RSS_E1" 'BEGIN { printf "%.2f", (b - a) / 10000 }') kB**."
    echo "Then 10000 $TOK5_LEN-byte tokens with 5 \"allowed\" entries and a sub in /b5/'s size=10000 cache: $RSS_E2 kB,"
    echo "per entry: **$(awk -v a="$RSS_E1" -v b="$RSS_E2" 'BEGIN { printf "%.2f", (b - a) / 10000 }') kB**."
    echo "Then 10000 chains of 3 links over the same root and first 2 links, each with a new $LINK_LEN-byte ES256 last link"
    echo "(one \"allowed\" rule, exp, jti), in /ch/'s size=20000 cache: $RSS_E3 kB, per new link's entry:"
    echo "**$(awk -v a="$RSS_E2" -v b="$RSS_E3" 'BEGIN { printf "%.2f", (b - a) / 10000 }') kB**."
    echo "The 10000 tokens of /b/, and those of /b5/, carry the same \"allowed\" entries: they share one compiled rule list"
    echo "(mt_intern.c).  The worst case, 10000 $TOK5U_LEN-byte tokens with 5 entries of their own each (nothing"
    echo "shared) in /b5u/'s cache: $RSS_E4 kB, per entry: **$(awk -v a="$RSS_E3" -v b="$RSS_E4" 'BEGIN { printf "%.2f", (b - a) / 10000 }') kB**."
    echo
    echo "### The cold path (c) against the bare OpenSSL operations (RSA-2048)"
    echo
    echo "| | µs per token | instructions (callgrind) |"
    echo "|---|---:|---:|"
    read -r cgv cgd cgs cgc <<< "${CG_RAW:-— — — —}"
    echo "| OpenSSL: EVP_DigestVerify RS256 (with its Init) | $raw_v | $cgv |"
    echo "| OpenSSL: EVP_PKEY_decrypt RSA-OAEP-SHA256 (with the context set-up) | $raw_d | $cgd |"
    echo "| OpenSSL: both | $raw_sum | $cgs |"
    echo "| core (mt_token_verify + authorize + decrypt + clear) | $core_us | $cgc |"
    echo "| nginx: worker per request, (c) − (a) | $nginx_c | ${CG_C:+$(minus0 "$CG_C" "$CG_A")} |"
    echo
    [ "$WRK" = 1 ] && echo "µs: nginx (c) / OpenSSL: $(ratio "$nginx_c" "$raw_sum"); core / OpenSSL: $(ratio "$core_us" "$raw_sum")."
    if [ -n "$CG_RAW" ]; then
        echo "Instructions: nginx (c) / OpenSSL: $(ratio "$(minus0 "$CG_C" "$CG_A")" "$cgs"); core / OpenSSL: $(ratio "$cgc" "$cgs")."
    fi
    echo
    echo "openssl speed -seconds 1 (same machine, same moment):"
    echo
    echo '```'
    echo "$SPEED"
    echo '```'
} >> "$RESULTS"

# ---- DPoP-bound tokens ------------------------------------------------------

# What a DPoP-bound token (docs/directives.md#magic_token_dpop) adds to each
# request: the proof's verification, which no cache can skip, against the
# plain token's cold path (core) measured above.
bench_dpop() {
    local out es ed
    log "DPoP proofs"
    out=$($MTB dpop 3)
    es=$(awk '/dpop-es256/ { print $3 }' <<< "$out")
    ed=$(awk '/dpop-eddsa/ { print $3 }' <<< "$out")
    {
        echo
        echo "### DPoP-bound tokens"
        echo
        echo "A bound token costs what a plain one does, cold or cached, plus one proof per request,"
        echo "verified on every request, cache hit or not (bench/mt_bench dpop: mt_dpop_verify of"
        echo "fresh proofs with ath and jkt; the replay store's insert, an rbtree, is not included)."
        echo
        echo "| | µs per request |"
        echo "|---|---:|"
        echo "| plain token, cold path (core, above) | $core_us |"
        echo "| DPoP proof, ES256 holder key | $es |"
        echo "| DPoP proof, EdDSA holder key | $ed |"
        echo
        echo "Most of a proof's cost is importing its jwk (OpenSSL's full public-key check, as for"
        echo "chain links, docs/attenuation.md) and the signature check."
    } >> "$RESULTS"
}

bench_dpop

# ---- chains and DPoP against the plain token -------------------------------

# nginx in instructions/request (callgrind, above), the core in µs
# (bench/mt_bench chain): a chain of 3 links and a DPoP-bound token, each
# cold, cached and (a chain) from a cached prefix, against the plain token
bench_chains() {
    local out
    log "chains: core"
    out=$($MTB chain 2 "$K/rsa/private.pem")
    v() { awk -v n="$1" '$1 == n { print $3 }' <<< "$out"; }
    {
        echo
        echo "### Chains and DPoP"
        echo
        echo "A chain of 3 links (docs/attenuation.md) over a root as in (c) (RS256, RSA-OAEP credential),"
        echo "links signed with EC P-256 holder keys (ES256, what \`magic-token attenuate --new-key\` makes; the"
        echo "core also with Ed25519, EdDSA), and a DPoP-bound token as in (c) with a fresh ES256 proof every request."
        echo "\"cached prefix\": the root and the first 2 links cached, a new last link every request."
        if [ -n "${CG_CH_HIT:-}" ]; then
            echo
            echo "nginx, instructions/request (callgrind, as above):"
            echo
            echo "| case | instructions/req | added to (a) | added to the plain token's same path |"
            echo "|---|---:|---:|---:|"
            echo "| plain token, cache hit ((b)) | $CG_B | $(minus0 "$CG_B" "$CG_A") | — |"
            echo "| chain of 3, cache hit | $CG_CH_HIT | $(minus0 "$CG_CH_HIT" "$CG_A") | $(minus0 "$CG_CH_HIT" "$CG_B") |"
            echo "| (a), plain proxy_pass, the client sending the chain (unused) | $CG_CH_A | $(minus0 "$CG_CH_A" "$CG_A") | the chain hit adds $(minus0 "$CG_CH_HIT" "$CG_CH_A") to it |"
            echo "| chain of 3, cached prefix, a new last link | $CG_CH_PRE | $(minus0 "$CG_CH_PRE" "$CG_A") | $(minus0 "$CG_CH_PRE" "$CG_B") (to the hit) |"
            echo "| plain token, cold ((c)) | $CG_C | $(minus0 "$CG_C" "$CG_A") | — |"
            echo "| chain of 3, cold | $CG_CH_COLD | $(minus0 "$CG_CH_COLD" "$CG_A") | $(minus0 "$CG_CH_COLD" "$CG_C") |"
            echo "| DPoP-bound, cache hit | $CG_DP_HIT | $(minus0 "$CG_DP_HIT" "$CG_A") | $(minus0 "$CG_DP_HIT" "$CG_B") |"
            echo "| DPoP-bound, cold | $CG_DP_COLD | $(minus0 "$CG_DP_COLD" "$CG_A") | $(minus0 "$CG_DP_COLD" "$CG_C") |"
        fi
        echo
        echo "The core alone, µs per request (bench/mt_bench chain and dpop: verify, authorize, decrypt as nginx"
        echo "does on each path, no nginx):"
        echo
        echo "| | plain token | chain of 3, ES256 links | chain of 3, EdDSA links |"
        echo "|---|---:|---:|---:|"
        echo "| cold (cache off) | $(v plain-cold) | $(v chain3-cold-es256) | $(v chain3-cold-eddsa) |"
        echo "| cached prefix, 1 new link | — | $(v chain3-prefix1-es256) | $(v chain3-prefix1-eddsa) |"
        echo "| cached root, 3 new links | — | $(v chain3-prefix3-es256) | $(v chain3-prefix3-eddsa) |"
        echo "| cache hit (the checks a hit runs) | $(v plain-hit) | $(v chain3-hit-es256) | $(v chain3-hit-eddsa) |"
        echo "| **per new last link** on a cached prefix | — | **$(v link-es256)** | **$(v link-eddsa)** |"
        echo "| OpenSSL EVP_DigestVerify of that link alone | — | $(v raw-es256-verify) | $(v raw-eddsa-verify) |"
        echo "| a further new link (imports the key a new open link names) | — | $(v link-import-es256) | $(v link-import-eddsa) |"
        echo "| DPoP proof (mt_bench dpop), added to a hit or a miss | $(awk '/dpop-es256/ { print $3 }' <<< "$($MTB dpop 1)") (ES256) | — | — |"
    } >> "$RESULTS"
}

bench_chains

cat "$RESULTS"
echo
echo "results: $RESULTS (wrk output: $RAW)"
