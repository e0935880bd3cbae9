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
# then the worker's RSS after warm-up and after BENCH_RSS_REQUESTS cache
# hits, the core's cost of the cold path without nginx (bench/mt_bench.c)
# and the bare OpenSSL cost of the same operations.
#
# Settings (environment): BENCH_DURATION (s, a/b/c/c2; 10),
# BENCH_ALG_DURATION (s, each (d) case; 3), BENCH_CONNECTIONS (16),
# BENCH_RSS_REQUESTS (1000000), BENCH_PORT (8480; +1 for the upstream),
# BENCH_OUT (build/bench), NGINX_BIN (/usr/sbin/nginx); BENCH_HOLD=N
# keeps nginx up N seconds after (a)-(c2), e.g. for perf record -p WORKER.
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
DUR=${BENCH_DURATION:-10}
ALG_DUR=${BENCH_ALG_DURATION:-3}
CONN=${BENCH_CONNECTIONS:-16}
RSS_REQUESTS=${BENCH_RSS_REQUESTS:-1000000}
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
case_add enc-OAEP-b64 "$E --encrypt-to $K/rsa/private.pem" "$HS $R"
case_add enc-RSA-OAEP "$E --encrypt-to $K/rsa/private.pem --jwe RSA-OAEP" "$HS $R"
case_add enc-RSA-OAEP-256 "$E --encrypt-to $K/rsa/private.pem --jwe RSA-OAEP-256" "$HS $R"
for a in ECDH-ES ECDH-ES+A128KW ECDH-ES+A256KW; do
    case_add "enc-$a" "$E --encrypt-to $K/ec256/private.pem --jwe $a" \
        "$HS magic_token_key $K/ec256/private.pem;"
done
case_add enc-A128KW "$E --encrypt-to $K/oct16.jwks --jwe A128KW" \
    "$HS magic_token_key $K/oct16.jwks;"
case_add enc-A256KW "$E --encrypt-to $K/oct32.jwks --jwe A256KW" \
    "$HS magic_token_key $K/oct32.jwks;"
case_add enc-dir-A256GCM "$E --encrypt-to $K/oct32.jwks --jwe dir --enc A256GCM" \
    "$HS magic_token_key $K/oct32.jwks;"
case_add enc-dir-A128GCM "$E --encrypt-to $K/oct16.jwks --jwe dir --enc A128GCM" \
    "$HS magic_token_key $K/oct16.jwks;"
case_add enc-dir-A128CBC-HS256 "$E --encrypt-to $K/oct32.jwks --jwe dir --enc A128CBC-HS256" \
    "$HS magic_token_key $K/oct32.jwks;"
case_add enc-dir-A256CBC-HS512 "$E --encrypt-to $K/oct64.jwks --jwe dir --enc A256CBC-HS512" \
    "$HS magic_token_key $K/oct64.jwks;"

ALG_LOCATIONS=""
for c in "${CASES[@]}"; do
    IFS='|' read -r name args keys <<< "$c"
    # shellcheck disable=SC2086
    mint "$name" $args
    ALG_LOCATIONS+="
        location /$name/ {
            magic_token on;
            $keys
            proxy_set_header Authorization \"Bearer \$magic_token_credential\";
            proxy_set_header Connection \"\";
            proxy_pass http://backend;
        }"
done

$MTB mint "$K/rsa/private.pem" 4000 > "$W/tok/churn"

cat > "$W/churn.lua" <<EOF
local tokens = {}
for line in io.lines("$W/tok/churn") do tokens[#tokens + 1] = line end
local i = 0
request = function()
    i = i % #tokens + 1
    return wrk.format("GET", "/c2/x", { ["Authorization"] = "Bearer " .. tokens[i] })
end
EOF

# ---- the two nginx --------------------------------------------------------

cat > "$W/up/nginx.conf" <<EOF
worker_processes 1;
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
EOF

cat > "$W/mt/nginx.conf" <<EOF
load_module $MODULE;
worker_processes 1;
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
    server {
        listen 127.0.0.1:$PORT backlog=4096;

        location /a/ {
            proxy_set_header Authorization "Bearer $STATIC";
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
        location /b/ {
            magic_token on;
            magic_token_key $K/rsa/private.pem;
            magic_token_cache size=10000;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
        location /c/ {
            magic_token on;
            magic_token_key $K/rsa/private.pem;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
        location /c2/ {
            magic_token on;
            magic_token_key $K/rsa/private.pem;
            magic_token_cache size=1000;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }
$ALG_LOCATIONS
    }
}
EOF

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
# "requests rps p50_ms p99_ms worker_cpu_us_per_request" and appends
# wrk's output to $RAW
run() {
    local name=$1 path=$2 dur=$3 arg=${4:-} out cpu0 cpu1
    local -a extra=()
    if [[ "$arg" == *.lua ]]; then
        extra=(-s "$arg")
    elif [ -n "$arg" ]; then
        extra=(-H "Authorization: Bearer $(cat "$arg")")
    fi
    cpu0=$(cpu)
    out=$(wrk -t1 -c"$CONN" -d"${dur}s" --latency "${extra[@]}" \
              "http://127.0.0.1:$PORT$path")
    cpu1=$(cpu)
    printf '### %s\n%s\n\n' "$name" "$out" >> "$RAW"
    if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
        echo "$name: errors:" >&2; echo "$out" >&2; exit 1
    fi
    awk -v ticks=$((cpu1 - cpu0)) -v hz="$HZ" '
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
        END { printf "%d %.1f %.3f %.3f %.1f\n", n, r, p50, p99,
                     ticks * 1e6 / hz / n }' <<< "$out"
}

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

log "(a) (b) (c) (c2): ${DUR}s each, $CONN connections"
# (a) gets the same request bytes (the token, ignored) as (b) and (c)
read -r A_N A_RPS A_P50 A_P99 A_CPU < <(run a /a/x "$DUR" "$W/tok/main")
read -r B_N B_RPS B_P50 B_P99 B_CPU < <(run b /b/x "$DUR" "$W/tok/main")
read -r _ C_RPS C_P50 C_P99 C_CPU < <(run c /c/x "$DUR" "$W/tok/main")
sleep 1; RSS_C2_0=$(rss)
read -r _ C2_RPS C2_P50 C2_P99 C2_CPU < <(run c2 /c2/x "$DUR" "$W/churn.lua")
sleep 1; RSS_C2_1=$(rss)

ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", x / y }'; }
minus() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.1f", x - y }'; }

{
    echo "## Results ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
    echo "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr);"
    echo "$($NGINX -v 2>&1 | sed 's/.*: //'), $(openssl version | cut -d' ' -f1-2), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }')."
    echo "wrk -t1 -c$CONN, keep-alive; 1 nginx worker; upstream: a separate nginx (1 worker) answering \"ok\", keep-alive."
    echo
    echo "\"worker CPU\": the worker's user + system time per request (/proc/PID/stat); \"added\": minus (a)'s."
    echo
    echo "| case | requests/s | p50 ms | p99 ms | ratio to (a) | worker CPU µs/req | added CPU µs/req |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    echo "| (a) plain proxy_pass, static Authorization (the client sends the same token, unused) | $A_RPS | $A_P50 | $A_P99 | 1.000 | $A_CPU | — |"
    echo "| (b) magic token, cache hit | $B_RPS | $B_P50 | $B_P99 | $(ratio "$B_RPS" "$A_RPS") | $B_CPU | $(minus "$B_CPU" "$A_CPU") |"
    echo "| (c) magic token, cold (cache off): RS256 + RSA-OAEP credential | $C_RPS | $C_P50 | $C_P99 | $(ratio "$C_RPS" "$A_RPS") | $C_CPU | $(minus "$C_CPU" "$A_CPU") |"
    echo "| (c2) cache on, every request a new token (4000 tokens, size=1000) | $C2_RPS | $C2_P50 | $C2_P99 | $(ratio "$C2_RPS" "$A_RPS") | $C2_CPU | $(minus "$C2_CPU" "$A_CPU") |"
} > "$RESULTS"

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
    echo
    echo "| case | requests/s | p50 ms | p99 ms | ratio to (a) | added CPU µs/req | core µs |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
} >> "$RESULTS"

for c in "${CASES[@]}"; do
    IFS='|' read -r name _ keys <<< "$c"
    read -r _ rps p50 p99 wcpu < <(run "$name" "/$name/x" "$ALG_DUR" "$W/tok/$name")
    # the same keys for the core benchmark
    kargs=()
    for w in $keys; do
        case $w in
            magic_token_key) mode=key ;;
            magic_token_secret) mode=secret ;;
            *) w=${w%;}; [ "$mode" = secret ] && w="secret:$w"; kargs+=("$w") ;;
        esac
    done
    core=$($MTB core 1 "$W/tok/$name" "${kargs[@]}" | awk '{ print $3 }')
    echo "| $name | $rps | $p50 | $p99 | $(ratio "$rps" "$A_RPS") | $(minus "$wcpu" "$A_CPU") | $core |" >> "$RESULTS"
done

# ---- RSS ------------------------------------------------------------------

# 10 s blocks until $RSS_REQUESTS requests; RSS a second after each
rss_run() {     # path; sets RSS_LOG and TOTAL
    local n
    TOTAL=0
    RSS_LOG=""
    while [ "$TOTAL" -lt "$RSS_REQUESTS" ]; do
        read -r n _ _ _ _ < <(run rss "$1" 10 "$W/tok/main")
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

# ---- the core and OpenSSL alone --------------------------------------------

log "core and raw OpenSSL"
CORE=$($MTB core 3 "$W/tok/main" "$K/rsa/private.pem")
RAWS=$($MTB raw 3 "$K/rsa/private.pem" "$W/tok/main")
core_us=$(awk '{ print $3 }' <<< "$CORE")
raw_v=$(awk '/verify/ { print $3 }' <<< "$RAWS")
raw_d=$(awk '/decrypt/ { print $3 }' <<< "$RAWS")
raw_sum=$(awk -v a="$raw_v" -v b="$raw_d" 'BEGIN { printf "%.1f", a + b }')
nginx_c=$(minus "$C_CPU" "$A_CPU")

SPEED=$(openssl speed -seconds 1 rsa2048 ecdsap256 ecdsap384 ecdsap521 ed25519 2>/dev/null \
        | grep -E '^(rsa|[ ]*[0-9]+ bits (ecdsa|EdDSA)|.*ed25519)' || true)

{
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
    echo "(c2) churn (every request a miss, store and eviction): $RSS_C2_0 kB before, $RSS_C2_1 kB after."
    echo
    echo "### The cold path (c) against the bare OpenSSL operations (RSA-2048)"
    echo
    echo "| | µs per token |"
    echo "|---|---:|"
    echo "| OpenSSL: EVP_DigestVerify RS256 | $raw_v |"
    echo "| OpenSSL: EVP_PKEY_decrypt RSA-OAEP-SHA256 | $raw_d |"
    echo "| OpenSSL: both | $raw_sum |"
    echo "| core (mt_token_verify + authorize + decrypt + clear) | $core_us |"
    echo "| nginx: worker CPU per request, (c) − (a) | $nginx_c |"
    echo
    echo "nginx (c) / OpenSSL: $(ratio "$nginx_c" "$raw_sum"); core / OpenSSL: $(ratio "$core_us" "$raw_sum")."
    echo
    echo "openssl speed -seconds 1 (same machine, same moment):"
    echo
    echo '```'
    echo "$SPEED"
    echo '```'
} >> "$RESULTS"

cat "$RESULTS"
echo
echo "results: $RESULTS (wrk output: $RAW)"
