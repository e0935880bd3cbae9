#!/usr/bin/env bash
#
# demo/run.sh - end-to-end demonstration of ngx_http_magic_token_module.
#
# Starts the distribution nginx (/usr/sbin/nginx) with the freshly built
# module under a throw-away prefix directory, mints a magic token with
# t/tools/mtmint.py and sends four requests through it:
#
#   1. an allowed request            -> 200, upstream receives the real credential
#                                       (its echo of it reaches the client as "*")
#   2. a request outside the scopes  -> 403 insufficient_scope
#   3. a tampered token              -> 401 invalid_token
#   4. no token at all               -> 401
#
# Every step is checked; the script exits non-zero if anything differs from
# the expectation.  "make demo" builds the module and then runs this script.
#
# Environment overrides:
#   MODULE   path of the module   (default: build/ngx_http_magic_token_module.so)
#   NGINX    nginx binary         (default: /usr/sbin/nginx)
#   PYTHON   python interpreter   (default: /usr/bin/python3, Debian's)
#   KEEP=1   keep the prefix directory after the run (for inspection)

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODULE=${MODULE:-$ROOT/build/ngx_http_magic_token_module.so}
NGINX=${NGINX:-/usr/sbin/nginx}
PYTHON=${PYTHON:-/usr/bin/python3}
MTMINT=$ROOT/t/tools/mtmint.py
CONF_SRC=$ROOT/conf-examples/quickstart.conf

BASE=http://127.0.0.1:8080
CREDENTIAL=ghp_demo_real_credential_1234

FAILURES=0

heading() { printf '\n== %s\n\n' "$*"; }
ok()      { printf '   OK    %s\n' "$*"; }
fail()    { printf '   FAIL  %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
die()     { printf 'demo: %s\n' "$*" >&2; exit 1; }

check() {   # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# --- preconditions -----------------------------------------------------------

[ -f "$MODULE" ]    || die "module not found: $MODULE (run 'make' first)"
[ -x "$NGINX" ]     || die "nginx not found: $NGINX (apt-get install nginx)"
[ -f "$MTMINT" ]    || die "token minting tool not found: $MTMINT"
[ -f "$CONF_SRC" ]  || die "configuration not found: $CONF_SRC"
command -v curl >/dev/null    || die "curl not found (apt-get install curl)"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found"

# --- prefix directory and cleanup --------------------------------------------

PREFIX=$(mktemp -d "${TMPDIR:-/tmp}/magic-token-demo.XXXXXX")
PIDFILE=$PREFIX/logs/nginx.pid

cleanup() {
    local rc=$?
    if [ -s "$PIDFILE" ]; then
        local pid
        pid=$(cat "$PIDFILE")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -TERM "$pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        printf '\nprefix kept: %s\n' "$PREFIX"
    else
        rm -rf "$PREFIX"
    fi
    exit "$rc"
}
trap cleanup EXIT

mkdir -p "$PREFIX/conf" "$PREFIX/logs" "$PREFIX/tmp"
# When run as root, nginx workers drop to an unprivileged user; let them
# traverse the prefix.  The key directory stays private to root.
chmod 755 "$PREFIX"

sed "s|^load_module .*;|load_module $MODULE;|" "$CONF_SRC" > "$PREFIX/conf/nginx.conf"

heading "Setup"
echo "prefix:  $PREFIX"
echo "module:  $MODULE"
echo "nginx:   $("$NGINX" -v 2>&1)"

"$PYTHON" "$MTMINT" keygen "$PREFIX/conf/keys" >/dev/null
chmod 700 "$PREFIX/conf/keys"
chmod 600 "$PREFIX/conf/keys/"*
echo "keys:    $(cd "$PREFIX/conf/keys" && echo *)"

NGINX_ARGS=(-p "$PREFIX/" -c conf/nginx.conf -e "$PREFIX/logs/error.log")

if ! "$NGINX" "${NGINX_ARGS[@]}" -t 2>"$PREFIX/logs/nginx-t.out"; then
    cat "$PREFIX/logs/nginx-t.out" >&2
    die "nginx -t failed"
fi
if ! "$NGINX" "${NGINX_ARGS[@]}"; then
    tail -n 20 "$PREFIX/logs/error.log" >&2 || true
    die "nginx failed to start"
fi
for _ in $(seq 50); do
    [ -s "$PIDFILE" ] && break
    sleep 0.1
done
[ -s "$PIDFILE" ] || die "nginx did not write $PIDFILE"
echo "nginx:   running, master pid $(cat "$PIDFILE"), listening on 127.0.0.1:8080"

# --- mint a token --------------------------------------------------------------

heading "Mint a magic token"
echo "   printf '%s' '$CREDENTIAL' | \\"
echo "     python3 t/tools/mtmint.py mint --key <prefix>/conf/keys/private.pem \\"
echo "       --allowed 'GET /user' --allowed 'GET /repos/[^/]+/[^/]+/issues' \\"
echo "       --claim 'aud=\"demo-api\"' --ttl 600"
echo

TOKEN=$(printf '%s' "$CREDENTIAL" |
        "$PYTHON" "$MTMINT" mint --key "$PREFIX/conf/keys/private.pem" \
            --allowed 'GET /user' --allowed 'GET /repos/[^/]+/[^/]+/issues' \
            --claim 'aud="demo-api"' --ttl 600)
TOKEN=$(printf '%s' "$TOKEN" | tr -d '[:space:]')

echo "TOKEN=${TOKEN:0:40}...  (${#TOKEN} characters)"
echo
echo "Its claims (anyone can read them; the credential is encrypted to the proxy's key):"
"$PYTHON" - "$TOKEN" <<'EOF'
import base64, json, sys
payload = sys.argv[1].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
if isinstance(claims.get("token"), str) and len(claims["token"]) > 32:
    claims["token"] = claims["token"][:32] + "..."
for line in json.dumps(claims, indent=2).splitlines():
    print("   " + line)
EOF
echo
check "the token does not contain the credential in clear text" \
    eval '! printf "%s" "$TOKEN" | grep -qF "$CREDENTIAL"'

# --- requests ------------------------------------------------------------------

# request METHOD PATH [TOKEN]: sets STATUS, WWW_AUTH and BODY and prints them.
request() {
    local method=$1 path=$2 token=${3:-}
    local args=(-sS --max-time 10 -X "$method" -D "$PREFIX/hdr" -o "$PREFIX/body" -w '%{http_code}')
    if [ -n "$token" ]; then
        args+=(-H "Authorization: Bearer $token")
    fi
    STATUS=$(curl "${args[@]}" "$BASE$path") || STATUS=000
    WWW_AUTH=$(tr -d '\r' < "$PREFIX/hdr" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p')
    BODY=$(cat "$PREFIX/body")

    printf '   <- %s\n' "$(tr -d '\r' < "$PREFIX/hdr" | head -n 1)"
    [ -z "$WWW_AUTH" ] || printf '   <- WWW-Authenticate: %s\n' "$WWW_AUTH"
    case $STATUS in
        2??) printf '   <- %s\n' "$BODY" ;;
    esac
    echo
}

heading "1. Allowed request: GET /api/user"
echo '   $ curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/user'
echo
request GET /api/user "$TOKEN"
check "status is 200" [ "$STATUS" = 200 ]
check "upstream saw GET /user" eval '[[ $BODY == *"saw: GET /user "* ]]'
check "upstream saw the real credential" \
    eval '[[ $BODY == *"(the demo credential)"* ]]'
check "its echo of the credential reached the client as '*' (magic_token_scrub)" \
    eval '[[ $BODY != *"$CREDENTIAL"* && $BODY == *"Authorization: Bearer ${CREDENTIAL//?/\*} "* ]]'
check "upstream did not see the magic token" eval '[[ $BODY != *"$TOKEN"* ]]'

heading "2. Outside the token's scopes: DELETE /api/repos/x/y"
echo '   $ curl -i -X DELETE -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/repos/x/y'
echo
request DELETE /api/repos/x/y "$TOKEN"
check "status is 403" [ "$STATUS" = 403 ]
check 'WWW-Authenticate has error="insufficient_scope"' \
    eval '[[ $WWW_AUTH == *"error=\"insufficient_scope\""* ]]'

heading "3. Tampered token: claims rewritten to allow everything"
TAMPERED=$("$PYTHON" "$MTMINT" tamper "$TOKEN" --mode payload --claim 'allowed=["* .*"]')
echo '   $ TAMPERED=$(python3 t/tools/mtmint.py tamper "$TOKEN" --mode payload \'
echo "         --claim 'allowed=[\"* .*\"]')"
echo
echo '   The payload now says "allowed": ["* .*"]; the signature is unchanged.'
echo
echo '   $ curl -i -X DELETE -H "Authorization: Bearer $TAMPERED" http://127.0.0.1:8080/api/repos/x/y'
echo
request DELETE /api/repos/x/y "$TAMPERED"
check "status is 401" [ "$STATUS" = 401 ]
check 'WWW-Authenticate has error="invalid_token"' \
    eval '[[ $WWW_AUTH == *"error=\"invalid_token\""* ]]'

heading "4. No token: GET /api/user"
echo '   $ curl -i http://127.0.0.1:8080/api/user'
echo
request GET /api/user
check "status is 401" [ "$STATUS" = 401 ]
check 'WWW-Authenticate is Bearer realm="magic-token" (no error)' \
    [ "$WWW_AUTH" = 'Bearer realm="magic-token"' ]

# --- logs ----------------------------------------------------------------------

AUDIT=$PREFIX/logs/audit.log
for _ in $(seq 20); do
    [ "$(wc -l < "$AUDIT" 2>/dev/null || echo 0)" -ge 4 ] && break
    sleep 0.1
done

heading "Audit log (logs/audit.log, log_format magic_audit)"
sed 's/^/   /' "$AUDIT"
echo
audit_line() { sed -n "${1}p" "$AUDIT"; }
check 'request 1 logged with scope "GET /user" and no error' \
    eval '[[ $(audit_line 1) == *"\"scope\":\"GET /user\",\"error\":\"\",\"status\":200"* ]]'
check 'request 2 logged as scope_denied, 403' \
    eval '[[ $(audit_line 2) == *"\"error\":\"scope_denied\",\"status\":403"* ]]'
check 'request 3 logged as bad_signature, 401' \
    eval '[[ $(audit_line 3) == *"\"error\":\"bad_signature\",\"status\":401"* ]]'
check 'request 4 logged as missing, 401' \
    eval '[[ $(audit_line 4) == *"\"error\":\"missing\",\"status\":401"* ]]'

heading "Denials in the error log (logs/error.log, level notice)"
grep -F 'magic_token: denied' "$PREFIX/logs/error.log" | sed 's/^/   /' || true
echo
check "three denials logged" \
    [ "$(grep -cF 'magic_token: denied' "$PREFIX/logs/error.log")" = 3 ]
check "no log file contains the credential" \
    eval '! grep -rqF "$CREDENTIAL" "$PREFIX/logs"'
check "no log file contains the token" \
    eval '! grep -rqF "${TOKEN##*.}" "$PREFIX/logs"'

# --- result --------------------------------------------------------------------

echo
if [ "$FAILURES" -ne 0 ]; then
    echo "demo: $FAILURES check(s) FAILED"
    echo
    echo "last lines of logs/error.log:"
    tail -n 20 "$PREFIX/logs/error.log" | sed 's/^/   /'
    exit 1
fi
echo "demo: all checks passed"
