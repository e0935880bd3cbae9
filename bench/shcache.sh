#!/usr/bin/env bash
# "make bench", part 2: two workers (bench/run.sh measures one).
#
#   (s1) the cold path with 1 and with 2 workers ("listen ... reuseport",
#        magic_token_cache off, one token): requests/s and the workers'
#        CPU µs per request (user + system of every worker over the run);
#        equal CPU per request is linear scaling.  Twice: proxied to the
#        upstream nginx (/c/, as run.sh's (c)), and answered by the nginx
#        under test itself (/g/, empty_gif after the access phase), so
#        that wrk is the only other process on the CPUs.
#   (s2) 10,000 distinct tokens, BENCH_SH_PASSES times each (round robin,
#        16 connections), through a fresh nginx with 2 workers: the
#        per-worker cache (magic_token_cache size=20000) against the shared
#        one (zone=tokens size=20000): requests/s over that fixed work, and
#        the cold operations (full verifications, counted from
#        $magic_token_cache_status MISS in the access log) per token: up to
#        2 per-worker (each worker verifies each token it sees), 1 with the
#        zone.  BENCH_SH_ROUNDS interleaved rounds, medians.
#   (s2b) the same with size=1000 for both (each worker keeps 1,000 of
#        the 10,000 tokens; the zone keeps them all): the per-worker cache
#        verifies a token again at every pass, the shared one once.
#   (s3) the zone's memory: the RSS of its mapping in a worker after
#        (s2), and with 10,000 tokens through a 4 MB zone (evictions).
#
# Settings: BENCH_SH_ROUNDS (3), BENCH_SH_PASSES (4), BENCH_SH_PIPELINE
# ((s1): requests per write on a connection, 4; 1: none),
# BENCH_DURATION (s per (s1) run; 4), BENCH_CONNECTIONS (16), BENCH_PORT
# (8480; this part uses +10 and +11), BENCH_OUT (build/bench).  Appends
# to $BENCH_OUT/results.md.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${MAGIC_TOKEN_MODULE:-$BUILD/ngx_http_magic_token_module.so}
CLI=$BUILD/magic-token
MTB=$BUILD/mt_bench
PORT=$(( ${BENCH_PORT:-8480} + 10 ))
UP_PORT=$((PORT + 1))
ROUNDS=${BENCH_SH_ROUNDS:-3}
PASSES=${BENCH_SH_PASSES:-4}
DUR=${BENCH_DURATION:-4}
CONN=${BENCH_CONNECTIONS:-16}
PIPELINE=${BENCH_SH_PIPELINE:-4}
OUT=${BENCH_OUT:-$BUILD/bench}
RESULTS=$OUT/results.md
NTOK=10000
HZ=$(getconf CLK_TCK)

W=$(mktemp -d /tmp/mt-shbench.XXXXXX)
mkdir -p "$OUT" "$W/keys" "$W/up/logs" "$W/mt/logs"

stop_nginx() {
    local pidfile=$1 pid
    if [ -s "$pidfile" ]; then
        pid=$(cat "$pidfile")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$pidfile"
    fi
}

cleanup() {
    stop_nginx "$W/mt/logs/nginx.pid"
    stop_nginx "$W/up/logs/nginx.pid"
    rm -rf "$W"
}
trap cleanup EXIT

log() { echo "== $*" >&2; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 }
    END { if (NR % 2) printf "%s", v[(NR + 1) / 2];
          else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.3f", x / y }'; }

log "shared cache benchmark in $W"
K=$W/keys
$CLI keygen --type rsa --bits 2048 --out "$K/rsa" >/dev/null
$MTB mint "$K/rsa/private.pem" "$NTOK" > "$W/many"
head -1 "$W/many" > "$W/one"

cat > "$W/cycle.lua" <<EOF
local tokens = {}
for line in io.lines("$W/many") do tokens[#tokens + 1] = line end
local i, n, limit, done = 0, 0, 0, nil
init = function(args) path = args[1]; limit = tonumber(args[2]); done = args[3] end
request = function()
    i = i % #tokens + 1
    return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[i] })
end
-- after limit answers: says so in a file (the script stops wrk) and stops
response = function()
    n = n + 1
    if n == limit then
        local f = io.open(done, "w")
        f:write("done\n")
        f:close()
        wrk.thread:stop()
    end
end
EOF

# (s1): PIPELINE requests per write on each connection (HTTP/1.1
# pipelining), so that wrk spends less CPU per request on the CPUs the
# workers need; the answers are counted one by one
cat > "$W/pipeline.lua" <<'EOF'
init = function(args)
    local r = {}
    for i = 1, tonumber(args[1]) do r[i] = wrk.format() end
    req = table.concat(r)
end
request = function() return req end
EOF

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
$NGINX -p "$W/up" -c "$W/up/nginx.conf" -e "$W/up/logs/error.log"

cache_loc() {   # name cache-parameters: a cached location, statuses logged
    cat <<EOF
        location /$1/ {
            magic_token on;
            magic_token_cache ${*:2};
            access_log $W/mt/logs/$1.log st buffer=256k;
            proxy_pass http://backend;
        }
EOF
}

mt_conf() {     # workers
    cat > "$W/mt/nginx.conf" <<EOF
load_module $MODULE;
worker_processes $1;
pid $W/mt/logs/nginx.pid;
error_log $W/mt/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    client_body_temp_path $W/mt/body;
    proxy_temp_path $W/mt/proxy;
    log_format st \$magic_token_cache_status;
    upstream backend {
        server 127.0.0.1:$UP_PORT;
        keepalive 64;
    }
    proxy_http_version 1.1;
    magic_token_zone tokens:32m;
    magic_token_zone small:4m;
    server {
        listen 127.0.0.1:$PORT reuseport backlog=4096;
        magic_token_key $K/rsa/private.pem;
        proxy_set_header Authorization "Bearer \$magic_token_credential";
        proxy_set_header Connection "";

        location /c/ {
            magic_token on;
            proxy_pass http://backend;
        }
        location /g/ {
            magic_token on;
            empty_gif;
        }
$(cache_loc w size=20000)
$(cache_loc z zone=tokens size=20000)
$(cache_loc w1 size=1000)
$(cache_loc z1 zone=tokens size=1000)
        location /s/ {
            magic_token on;
            magic_token_cache zone=small size=1;
            proxy_pass http://backend;
        }
    }
}
EOF
}

start_mt() {    # workers
    stop_nginx "$W/mt/logs/nginx.pid"
    rm -f "$W/mt/logs/"*.log
    mt_conf "$1"
    $NGINX -p "$W/mt" -c "$W/mt/nginx.conf" -e "$W/mt/logs/error.log"
    for _ in $(seq 50); do
        [ "$(workers | wc -w)" -ge "$1" ] && break
        sleep 0.1
    done
}

workers() { ps -o pid= --ppid "$(cat "$W/mt/logs/nginx.pid")" | tr -d ' '; }
cpu() {         # user + system ticks of every worker
    local p t=0
    for p in $(workers); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$t"
}

# wrk path duration: "requests rps worker_cpu_us_per_request", one token
wrk_run() {
    local path=$1 dur=$2 out c0 c1
    local -a extra=(-H "Authorization: Bearer $(cat "$W/one")")
    [ "$PIPELINE" -gt 1 ] && extra+=(-s "$W/pipeline.lua")
    c0=$(cpu)
    out=$(wrk -t1 -c"$CONN" -d"${dur}s" "${extra[@]}" "http://127.0.0.1:$PORT$path" \
              -- "$PIPELINE")
    c1=$(cpu)
    if grep -q "Non-2xx\|Socket errors" <<< "$out"; then
        echo "$path: errors:" >&2; echo "$out" >&2; exit 1
    fi
    awk -v ticks=$((c1 - c0)) -v hz="$HZ" '
        /requests in/     { n = $1 }
        /Requests\/sec:/  { r = $2 }
        END { printf "%d %.1f %.2f\n", n, r, ticks * 1e6 / hz / n }' <<< "$out"
}

# fixed work: path; every token PASSES times, then wrk is stopped:
# "requests rps" (rps over the wall time until the last answer)
wrk_work() {
    local path=$1 n=$((NTOK * PASSES)) t0 t1 pid
    rm -f "$W/done"
    t0=$(date +%s.%N)
    wrk -t1 -c"$CONN" -d600s -s "$W/cycle.lua" "http://127.0.0.1:$PORT$path" \
        -- "$path" "$n" "$W/done" > "$W/wrk.out" 2>&1 &
    pid=$!
    while [ ! -e "$W/done" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    t1=$(date +%s.%N)
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
    if [ ! -e "$W/done" ] || grep -q "Non-2xx\|Socket errors" "$W/wrk.out"; then
        echo "$path: errors:" >&2; cat "$W/wrk.out" >&2; exit 1
    fi
    awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d %.1f\n", n, n / (b - a) }'
}

# ---- (s1) the cold path, 1 and 2 workers -----------------------------------

log "(s1) cold path, 1 and 2 workers, reuseport: $ROUNDS rounds, ${DUR}s each"
declare -A S1_RPS S1_CPU S1_RATIO
for round in $(seq "$ROUNDS"); do
    for l in c g; do
        for n in 1 2; do
            start_mt "$n"
            read -r _ rps wcpu < <(wrk_run "/$l/x" "$DUR")
            S1_RPS[$l$n]+=" $rps"; S1_CPU[$l$n]+=" $wcpu"
        done
        S1_RATIO[$l]+=" $(ratio "${S1_RPS[${l}2]##* }" "${S1_RPS[${l}1]##* }")"
        log "round $round /$l/: 1 worker ${S1_RPS[${l}1]##* } rps, 2 workers ${S1_RPS[${l}2]##* } rps"
    done
done

# ---- (s2) 10,000 tokens, per-worker against shared ------------------------

# s2 name per-worker-location shared-location: ROUNDS interleaved rounds
declare -A S2_RPS S2_COLD S2_REQ S2_SHARED S2_RATIO
s2() {
    local name=$1 w=$2 z=$3 round k req rps miss shared distinct
    for round in $(seq "$ROUNDS"); do
        declare -A R=()
        for k in "$w" "$z"; do
            start_mt 2
            read -r req rps < <(wrk_work "/$k/x")
            [ "$k" = z ] && ZONE_RSS=$(for p in $(workers); do
                awk '/^[0-9a-f]+-[0-9a-f]+ .*zero/ { z = 1; next }
                     /^[0-9a-f]+-[0-9a-f]+ / { z = 0 }
                     z && /^Size:/ { s = $2 }
                     z && /^Rss:/ && s == 32768 { print $2; exit }' "/proc/$p/smaps"
                done | sort -g | tail -1)
            stop_nginx "$W/mt/logs/nginx.pid"
            miss=$(grep -c '^MISS$' "$W/mt/logs/$k.log" || true)
            shared=$(grep -c '^SHARED$' "$W/mt/logs/$k.log" || true)
            distinct=$(( req < NTOK ? req : NTOK ))
            R[$k]=$rps
            S2_RPS[$k]+=" $rps"; S2_REQ[$k]+=" $req"; S2_SHARED[$k]+=" $shared"
            S2_COLD[$k]+=" $(awk -v m="$miss" -v d="$distinct" 'BEGIN { printf "%.2f", m / d }')"
        done
        S2_RATIO[$name]+=" $(ratio "${R[$z]}" "${R[$w]}")"
        log "round $round: per-worker ${R[$w]} rps (cold/token ${S2_COLD[$w]##* }), shared ${R[$z]} rps (cold/token ${S2_COLD[$z]##* })"
    done
}

log "(s2) $NTOK tokens x $PASSES, 2 workers, per-worker vs shared cache, size=20000: $ROUNDS rounds"
s2 s2 w z
log "(s2b) the same, size=1000"
s2 s2b w1 z1

# ---- (s3) a small zone -------------------------------------------------------

log "(s3) $NTOK tokens through a 4 MB zone"
start_mt 2
perl "$ROOT/bench/requests.pl" "$PORT" /s/x "$NTOK" "$W/many" --list
SMALL_RSS=$(for p in $(workers); do
    awk '/^[0-9a-f]+-[0-9a-f]+ .*zero/ { z = 1; next }
         /^[0-9a-f]+-[0-9a-f]+ / { z = 0 }
         z && /^Size:/ { s = $2 }
         z && /^Rss:/ && s == 4096 { print $2; exit }' "/proc/$p/smaps"
    done | sort -g | tail -1)
FULL=$(grep -c 'magic_token_zone "small" is full' "$W/mt/logs/error.log" || true)
stop_nginx "$W/mt/logs/nginx.pid"

{
    echo
    echo "## Two workers ($(date -u '+%Y-%m-%d %H:%M UTC'); bench/shcache.sh)"
    echo
    echo "nginx with worker_processes 1 or 2 (\`listen ... reuseport\`, workers not pinned), wrk -t1 -c$CONN"
    echo "and the upstream nginx on the same $(nproc) CPUs. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "### (s1) The cold path with 1 and 2 workers"
    echo
    echo "magic_token_cache off, one RS256 token with an RSA-OAEP credential; $ROUNDS rounds of ${DUR}s"
    echo "(1 worker, 2 workers, interleaved), medians; the ratio is the median of the per-round ratios."
    echo "\"worker CPU\": user + system time of all the workers per request; equal values mean linear scaling."
    echo "/c/ proxies to the upstream nginx (3 processes share the CPUs); /g/ answers with empty_gif"
    echo "after the access phase (wrk is the only other process). wrk pipelines $PIPELINE requests per write"
    echo "on each of its $CONN connections (fewer system calls for wrk, which shares the CPUs)."
    echo
    echo "| location | workers | requests/s | worker CPU µs/req | 2 workers / 1 worker |"
    echo "|---|---:|---:|---:|---:|"
    for l in c g; do
        for n in 1 2; do
            r=""
            [ "$n" = 2 ] && r="**$(median <<< "${S1_RATIO[$l]}")x** (per round:${S1_RATIO[$l]})"
            echo "| /$l/ | $n | $(median <<< "${S1_RPS[$l$n]}") | $(median <<< "${S1_CPU[$l$n]}") | $r |"
        done
    done
    echo
    echo "### (s2) $NTOK distinct tokens, 2 workers: per-worker cache against the shared one"
    echo
    echo "A fresh nginx for every run (empty caches); wrk sends the $NTOK tokens round robin, each $PASSES times"
    echo "(a fixed amount of work: requests/s is requests over the time it took); $ROUNDS rounds interleaved,"
    echo "medians. Cold operations: requests whose \$magic_token_cache_status was MISS (verified and decrypted in"
    echo "full), per distinct token."
    echo
    echo "| cache | requests/s | requests | cold operations per token | SHARED hits |"
    echo "|---|---:|---:|---:|---:|"
    for k in w z; do
        echo "| $( [ $k = w ] && echo "per-worker (size=20000)" || echo "shared (zone=tokens size=20000)") | $(median <<< "${S2_RPS[$k]}") | $(median <<< "${S2_REQ[$k]}") | $(median <<< "${S2_COLD[$k]}") | $( [ $k = w ] && echo — || median <<< "${S2_SHARED[$k]}") |"
    done
    echo
    echo "Shared / per-worker requests/s: **$(median <<< "${S2_RATIO[s2]}")x** (per round:${S2_RATIO[s2]})."
    echo
    echo "#### (s2b) The same with size=1000: each worker keeps 1000 of the $NTOK tokens, the zone all of them"
    echo
    echo "| cache | requests/s | requests | cold operations per token | SHARED hits |"
    echo "|---|---:|---:|---:|---:|"
    for k in w1 z1; do
        echo "| $( [ $k = w1 ] && echo "per-worker (size=1000)" || echo "shared (zone=tokens size=1000)") | $(median <<< "${S2_RPS[$k]}") | $(median <<< "${S2_REQ[$k]}") | $(median <<< "${S2_COLD[$k]}") | $( [ $k = w1 ] && echo — || median <<< "${S2_SHARED[$k]}") |"
    done
    echo
    echo "Shared / per-worker requests/s: **$(median <<< "${S2_RATIO[s2b]}")x** (per round:${S2_RATIO[s2b]})."
    echo
    echo "### (s3) The zone's memory"
    echo
    echo "RSS of the 32 MB zone's mapping in a worker after a shared run: ${ZONE_RSS:-?} kB."
    echo "$NTOK tokens through a 4 MB zone (size=1 in front): its mapping's RSS ${SMALL_RSS:-?} kB (of 4096),"
    echo "\"full\" logged $FULL time(s); the least recently used entries were evicted."
} >> "$RESULTS"

tail -n 45 "$RESULTS"
