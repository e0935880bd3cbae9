#!/bin/bash
# Build the module AND an nginx binary from an nginx source tree, then run
# the whole test suite against that pair.  Run through the Makefile:
#
#   make compat NGINX_SRC=/path/to/nginx          # tarball or git checkout
#   make compat NGINX_SRC=... COMPAT_DEBUG=0      # nginx without --with-debug
#
# Nothing is downloaded: NGINX_SRC is a tree you already have (a release
# tarball with ./configure, or a checkout of nginx's repository with
# auto/configure).  The tree is copied; it is not modified.
#
# Environment (the Makefile passes these):
#   NGINX_SRC       the nginx source tree (required)
#   COMPAT_DEBUG    1 (default): configure --with-debug; 0: without
#   COMPAT_BUILD    build directory (default build/compat-<version>, plus
#                   -nodebug when COMPAT_DEBUG=0)
#   COMPAT_SUITES   the .t files to run (default: all of t/)
#   COMPAT_CONF_FLAGS  extra ./configure arguments
#   PROVE_INC       prove's -I for the runner (t/compat when the CPAN
#                   Test::Nginx is absent)
#   TEST_NGINX_PORT as for the suites (default 1984)
#
# Result: prove's output, and one summary line, also written to
# <build>/compat-result.txt.  Exit status: 0 when every suite passed.

set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

die() { echo "compat: $*" >&2; exit 2; }

src=${NGINX_SRC:-}
[ -n "$src" ] || die "NGINX_SRC=/path/to/nginx-source is required"
src=$(cd "$src" && pwd) || die "$NGINX_SRC: no such directory"
[ -f "$src/src/core/nginx.h" ] \
    || die "$src: not an nginx source tree (no src/core/nginx.h)"
[ -f "$src/configure" ] || [ -f "$src/auto/configure" ] \
    || die "$src: neither configure nor auto/configure"

version=$(sed -n 's/^#define NGINX_VERSION *"\([^"]*\)".*/\1/p' \
              "$src/src/core/nginx.h")
[ -n "$version" ] || die "$src: cannot read NGINX_VERSION"

debug=${COMPAT_DEBUG:-1}
suffix=""
flags="--with-compat --with-http_auth_request_module --with-http_slice_module --with-http_ssl_module --with-http_v2_module"
if [ "$debug" = 1 ]; then
    flags="$flags --with-debug"
else
    suffix="-nodebug"
fi
flags="$flags ${COMPAT_CONF_FLAGS:-}"
flags=${flags% }
build=${COMPAT_BUILD:-build/compat-$version$suffix}

commit="(not a git checkout)"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    commit=$(git -C "$src" rev-parse HEAD)
fi

echo "== nginx $version from $src"
echo "   commit:    $commit"
echo "   configure: $flags"
echo "   build dir: $build"

# configured with other flags before: configure again
mkdir -p "$build"
if [ -f "$build/compat-flags" ] \
   && [ "$(cat "$build/compat-flags")" != "$src $flags" ]; then
    rm -rf "$build/nginx"
fi

# the module: the Makefile's own rule, configure included.  nginx
# compiles with -Werror; a "warning:" line fails the run all the same.
make --no-print-directory BUILD="$build" NGINX_SRC="$src" \
    NGINX_CONF_FLAGS="$flags" module >"$build/build.log" 2>&1 \
    || { tail -40 "$build/build.log"; die "module build failed"; }
echo "$src $flags" >"$build/compat-flags"

# the nginx binary of the same tree and flags: a --with-compat module
# loads only into an nginx of the same version
make --no-print-directory -C "$build/nginx" -f objs/Makefile \
    -j"$(nproc 2>/dev/null || echo 1)" binary >>"$build/build.log" 2>&1 \
    || { tail -40 "$build/build.log"; die "nginx build failed"; }
if grep -n 'warning:' "$build/build.log"; then
    die "compiler warnings (see $build/build.log)"
fi

nginx="$root/$build/nginx/objs/nginx"
module="$root/$build/ngx_http_magic_token_module.so"
"$nginx" -V 2>&1 | sed 's/^/   /'

suites=${COMPAT_SUITES:-t/}
log="$build/prove.log"
set +e
TEST_NGINX_BINARY="$nginx" MAGIC_TOKEN_MODULE="$module" \
    t/tools/subreaper prove ${PROVE_INC:--I t/compat} -r $suites 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

files=$(sed -n 's/^Files=\([0-9]*\),.*/\1/p' "$log" | tail -1)
failed=$(sed -n '/^Test Summary Report/,$p' "$log" \
             | grep -cE '^t/[^ ]+\.t +\(' || true)
files=${files:-0}
passed=$((files - failed))
result="nginx $version$suffix commit $commit date $(date -u +%Y-%m-%d):"
result="$result $passed/$files suites passed; configure $flags"
echo "$result" | tee "$build/compat-result.txt"
exit "$rc"
