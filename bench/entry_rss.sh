#!/usr/bin/env bash
# The memory part of bench/run.sh alone (about a minute): a fresh nginx,
# one worker, its VmRSS before and after 10000 distinct tokens stored in
# a size=10000 magic_token_cache, for
#
#   1     RS256 tokens with one "allowed" entry (mt_bench mint)
#   5     1.1 kB tokens with the same five "allowed" entries and a sub
#         (mt_bench mint5): one rule list shared by all (mt_intern.c)
#   5u    the same with five entries of their own each (mt_bench
#         mint5u): nothing to share, the worst case
#
# each in a location of its own, one after the other in the same worker.
# Prints "case tokens-bytes kB-per-entry" lines.  Settings: BENCH_PORT
# (8480; +1 for the upstream), BENCH_OUT (build/bench-rss), NGINX_BIN,
# MAGIC_TOKEN_MODULE (build/ngx_http_magic_token_module.so), MT_BENCH.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
NGINX=${NGINX_BIN:-/usr/sbin/nginx}
MODULE=${MAGIC_TOKEN_MODULE:-$BUILD/ngx_http_magic_token_module.so}
MTB=${MT_BENCH:-$BUILD/mt_bench}
PORT=${BENCH_PORT:-8480}
UP_PORT=$((PORT + 1))
W=${BENCH_OUT:-$BUILD/bench-rss}
N=10000

rm -rf "$W"
mkdir -p "$W/logs" "$W/tmp"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$W/key.pem" 2> /dev/null

loc() {     # name
    cat <<EOF
        location /$1/ {
            magic_token on;
            magic_token_key $W/key.pem;
            magic_token_cache size=$N;
            proxy_set_header Authorization "Bearer \$magic_token_credential";
            proxy_pass http://127.0.0.1:$UP_PORT;
        }
EOF
}

cat > "$W/nginx.conf" <<EOF
load_module $MODULE;
worker_processes 1;
pid $W/logs/nginx.pid;
error_log $W/logs/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $W/tmp;
    proxy_temp_path $W/tmp;
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { return 200 "ok\n"; }
    }
    server {
        listen 127.0.0.1:$PORT;
$(loc 1)
$(loc 5)
$(loc 5u)
    }
}
EOF

"$MTB" mint "$W/key.pem" 20 > "$W/warm"
"$MTB" mint "$W/key.pem" $N > "$W/t1"
"$MTB" mint5 "$W/key.pem" $N > "$W/t5"
"$MTB" mint5u "$W/key.pem" $N > "$W/t5u"

"$NGINX" -p "$W" -c "$W/nginx.conf" -e "$W/logs/error.log"
trap 'kill -QUIT "$(cat "$W/logs/nginx.pid")" 2> /dev/null || true' EXIT
sleep 0.5
MASTER=$(cat "$W/logs/nginx.pid")
WORKER=$(ps -o pid= --ppid "$MASTER" | head -1 | tr -d ' ')
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$WORKER/status"; }

# every location's cache made before the first measure
for c in 1 5 5u; do
    perl "$ROOT/bench/requests.pl" "$PORT" "/$c/x" 2 "$W/warm"
done
sleep 1
before=$(rss)

for c in 1 5 5u; do
    perl "$ROOT/bench/requests.pl" "$PORT" "/$c/x" $N "$W/t$c" --list
    sleep 1
    after=$(rss)
    len=$(head -1 "$W/t$c" | tr -d '\n' | wc -c)
    awk -v c="$c" -v l="$len" -v a="$before" -v b="$after" -v n=$N \
        'BEGIN { printf "%s %d %.2f\n", c, l, (b - a) / n }'
    before=$after
done
