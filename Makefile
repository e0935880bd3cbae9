# ngx_http_magic_token_module
SHELL        := /bin/bash
#
#   make            build build/ngx_http_magic_token_module.so against the
#                   installed Debian nginx (nginx-dev's tree in
#                   /usr/share/nginx/src), or NGINX_SRC=/path/to/nginx
#   make test       install what is missing, build, run every test
#   make demo       install what is missing, build, run the demo
#   make install    copy the module to $(MODULES_DIR)
#   make deb        build/libnginx-mod-http-magic-token_<version>_<arch>.deb
#                   (debian/, see docs/packaging.md), checked by lintian
#   make compat NGINX_SRC=/path/to/nginx
#                   build the module and that nginx, run every test
#                   against them (docs/compatibility.md)

NGINX_SRC    ?= /usr/share/nginx/src
NGINX_BIN    ?= /usr/sbin/nginx
MODULES_DIR  ?= /usr/lib/nginx/modules
BUILD        ?= build
CC           ?= cc
# the version, kept in one place: the first entry of debian/changelog
VERSION      := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
# extra options for nginx's configure (the package build passes Debian's
# hardening flags here)
NGX_CC_OPT   ?=
NGX_LD_OPT   ?=
# Debian's interpreter, where python3-cryptography and friends live
export PYTHON ?= /usr/bin/python3

MODULE       := $(BUILD)/ngx_http_magic_token_module.so
SRC_DIR      := ngx_http_magic_token_module
CORE_SRCS    := $(wildcard $(SRC_DIR)/mt_*.c)
GLUE_SRCS    := $(wildcard $(SRC_DIR)/ngx_*.c $(SRC_DIR)/ngx_*.h)
CORE_HDRS    := $(SRC_DIR)/mt_core.h

CFLAGS_CORE  := -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -g -Wall -Wextra \
                -Werror -I$(SRC_DIR)
LIBS_CORE    := -ljansson -lpcre2-8 -lcrypto

UNIT_SRCS    := $(wildcard t/unit/test_*.c)
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

DEB_PACKAGES := nginx nginx-dev libssl-dev libjansson-dev libpcre2-dev \
                zlib1g-dev gcc make libtest-base-perl libtext-diff-perl \
                libipc-run-perl liburi-perl libwww-perl \
                libtest-longstring-perl python3 python3-cryptography \
                python3-jwcrypto python3-jwt openssl curl

# the real Test::Nginx when installed, else the project's runner
PROVE_INC    := $(shell perl -MTest::Nginx::Socket -e1 2>/dev/null \
                  || echo "-I t/compat")

.PHONY: all module deps test unit-test nginx-test demo install clean \
        interop-deps unit-test-strict

all: module cli

module: $(MODULE)

# nginx's configure runs once per build directory; "make -f objs/Makefile
# modules" recompiles only what changed.  NGINX_SRC may be a release
# tarball (./configure) or a checkout of nginx's repository
# (auto/configure).  Configure arguments: NGINX_CONF_FLAGS when given,
# else Debian's conf_flags when the tree has them (nginx-dev), else
# --with-compat.
NGINX_CONF_FLAGS ?=

$(BUILD)/nginx/objs/Makefile: config
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	    if [ -f configure ]; then conf=./configure; \
	    elif [ -f auto/configure ]; then conf=auto/configure; \
	    else echo "$(NGINX_SRC): no configure nor auto/configure" \
	              "(not an nginx source tree?)"; exit 1; fi; \
	    if [ -n "$(NGINX_CONF_FLAGS)" ]; then \
	        sh $$conf $(NGINX_CONF_FLAGS) \
	            --add-dynamic-module=$(CURDIR) >configure.log 2>&1; \
	    elif [ -f conf_flags ]; then \
	        . ./conf_flags; \
	        sh $$conf "$${NGX_CONF_FLAGS[@]}" \
	            $(if $(NGX_CC_OPT),--with-cc-opt="$(NGX_CC_OPT)") \
	            $(if $(NGX_LD_OPT),--with-ld-opt="$(NGX_LD_OPT)") \
	            --add-dynamic-module=$(CURDIR) >configure.log 2>&1; \
	    else \
	        sh $$conf --with-compat \
	            $(if $(NGX_CC_OPT),--with-cc-opt="$(NGX_CC_OPT)") \
	            $(if $(NGX_LD_OPT),--with-ld-opt="$(NGX_LD_OPT)") \
	            --add-dynamic-module=$(CURDIR) >configure.log 2>&1; \
	    fi || { tail -30 configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(CORE_SRCS) $(CORE_HDRS) $(GLUE_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules
	@# a new inode: a running nginx keeps its mapping of the old file
	cp $(BUILD)/nginx/objs/ngx_http_magic_token_module.so $@.tmp
	mv -f $@.tmp $@

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/unit/%: t/unit/%.c t/unit/tap.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS_CORE) -It/unit -o $@ $< $(CORE_SRCS) $(LIBS_CORE)

unit-test: $(UNIT_BINS)
	prove -v $(UNIT_BINS) 2>&1 | tail -n 40

# under a child subreaper: the daemonised nginx masters the suites stop are
# reaped at once, not whenever PID 1 gets to it (see t/tools/subreaper)
nginx-test: module cli scope-match interop-deps
	TEST_NGINX_BINARY=$(NGINX_BIN) t/tools/subreaper prove $(PROVE_INC) -r t/

# the npm "jose" package for t/042-interop.t, "dpop" for
# t/046-dpop-workers.t and the MCP SDK for t/048-mcp-sdk.t (each
# skipped, or replaced, there when missing)
interop-deps:
	@if command -v npm >/dev/null 2>&1 \
	    && { [ ! -d t/tools/interop/node_modules/jose ] \
	         || [ ! -d t/tools/interop/node_modules/dpop ] \
	         || [ ! -d t/tools/interop/node_modules/@modelcontextprotocol/sdk ]; }; then \
	    (cd t/tools/interop && npm ci --no-audit --no-fund --silent) \
	        || echo "npm ci failed: the npm interop tests will be skipped"; \
	fi

test: deps
	$(MAKE) module cli
	$(MAKE) unit-test-strict
	$(MAKE) nginx-test

unit-test-strict: $(UNIT_BINS)
	prove $(UNIT_BINS)

demo: deps
	$(MAKE) module
	bash demo/run.sh

install: module cli
	install -d $(DESTDIR)$(MODULES_DIR)
	install -m 0644 $(MODULE) \
	    $(DESTDIR)$(MODULES_DIR)/.ngx_http_magic_token_module.so.tmp
	mv -f $(DESTDIR)$(MODULES_DIR)/.ngx_http_magic_token_module.so.tmp \
	    $(DESTDIR)$(MODULES_DIR)/ngx_http_magic_token_module.so

clean:
	rm -rf $(BUILD) t/servroot

# ---- other nginx versions (docs/compatibility.md) ---------------------
#
#   make compat NGINX_SRC=/path/to/nginx
#                   builds the module and an nginx binary from that tree
#                   (a release tarball or a checkout of nginx's
#                   repository) in build/compat-<version>/, configured
#                   --with-compat --with-http_auth_request_module
#                   --with-http_slice_module --with-http_ssl_module
#                   --with-http_v2_module --with-debug, and runs every
#                   suite against them.
#                   COMPAT_DEBUG=0: an nginx without --with-debug;
#                   COMPAT_SUITES="t/001-basic.t ...": some suites only.

.PHONY: compat

compat: cli interop-deps
	MAGIC_TOKEN_CLI=$(CURDIR)/$(CLI) PROVE_INC="$(PROVE_INC)" \
	    NGINX_SRC="$(NGINX_SRC)" bash t/tools/compat.sh

# ---- magic-token CLI (cli/) -------------------------------------------
#
#   make cli            build/magic-token, linked with the core (mt_*.c)
#   make cli-install    copy it to $(BINDIR)

BINDIR       ?= /usr/local/bin
CLI          := $(BUILD)/magic-token
CLI_SRCS     := $(wildcard cli/*.c)
CLI_HDRS     := $(wildcard cli/*.h)

.PHONY: cli cli-install scope-match

# the module's scope matcher over a corpus, for t/012-scope-differential.t
SCOPE_MATCH  := $(BUILD)/scope-match

scope-match: $(SCOPE_MATCH)

$(SCOPE_MATCH): t/tools/scope-match.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) -o $@ $< $(CORE_SRCS) $(LIBS_CORE)

cli: $(CLI)

# CPPFLAGS, CFLAGS and LDFLAGS: empty unless given (the package build
# passes Debian's hardening flags)
$(CLI): $(CLI_SRCS) $(CLI_HDRS) $(CORE_SRCS) $(CORE_HDRS) debian/changelog
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) $(CPPFLAGS) $(CFLAGS) -Icli \
	    -DMT_CLI_VERSION='"$(VERSION)"' -o $@.tmp $(CLI_SRCS) \
	    $(CORE_SRCS) $(LDFLAGS) $(LIBS_CORE)
	mv -f $@.tmp $@

cli-install: cli
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/magic-token

# ---- fuzzing and memory checks (fuzz/) ----------------------------------
#
#   make fuzz           build the libFuzzer harnesses (clang) into
#                       build/fuzz/ and run each for FUZZ_SECONDS (60)
#                       on a scratch copy of its seed corpus
#   make fuzz-smoke     the same, 10 seconds each (CI)
#   make check-memory   the unit tests under ASan+UBSan (build/asan/),
#                       then under valgrind when it is installed
#
# The fuzz targets need clang and libclang-rt-14-dev (libFuzzer); they
# are installed with apt-get when missing and we are root.  See
# fuzz/README.md.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  ?= base64 jws claims jwe scope mint jwks path revoke grant chain \
                 scrub dpop mcp
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS   := -std=c99 -D_POSIX_C_SOURCE=200809L -g -O1 \
                 -fno-omit-frame-pointer -Wall -Wextra -I$(SRC_DIR) -Ifuzz
FUZZ_OBJS     := $(patsubst $(SRC_DIR)/%.c,$(FUZZ_DIR)/obj/%.o,$(CORE_SRCS))
FUZZ_BINS     := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_PACKAGES := clang libclang-rt-14-dev
# per harness: -max_len and -timeout (seconds)
FUZZ_OPTS_base64 := -max_len=4096 -timeout=10
FUZZ_OPTS_jws    := -max_len=4096 -timeout=10
FUZZ_OPTS_claims := -max_len=4096 -timeout=10
FUZZ_OPTS_jwe    := -max_len=4096 -timeout=10
FUZZ_OPTS_scope  := -max_len=2048 -timeout=10
FUZZ_OPTS_mint   := -max_len=4096 -timeout=10
FUZZ_OPTS_jwks   := -max_len=4096 -timeout=30
FUZZ_OPTS_path   := -max_len=4096 -timeout=10
FUZZ_OPTS_revoke := -max_len=8192 -timeout=10
FUZZ_OPTS_grant  := -max_len=8192 -timeout=10
FUZZ_OPTS_chain  := -max_len=8192 -timeout=10
FUZZ_OPTS_mcp    := -max_len=8192 -timeout=10
FUZZ_OPTS_scrub  := -max_len=8192 -timeout=10
FUZZ_OPTS_dpop   := -max_len=8192 -timeout=10

ASAN_CC       ?= $(CC)
ASAN_DIR      := $(BUILD)/asan
ASAN_BINS     := $(patsubst t/unit/%.c,$(ASAN_DIR)/%,$(UNIT_SRCS))
ASAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all \
                 -fno-omit-frame-pointer

.PHONY: fuzz fuzz-smoke check-memory
.SECONDARY: $(FUZZ_OBJS)

# clang and libFuzzer present, else apt-get them (as root)
define FUZZ_NEED_CLANG
	@if ! command -v $(FUZZ_CC) >/dev/null 2>&1 \
	    || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n)' \
	         '{ return 0; }' \
	       | $(FUZZ_CC) -x c -fsanitize=fuzzer -o /dev/null - \
	         >/dev/null 2>&1; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "fuzz: need $(FUZZ_CC) with libFuzzer;" \
	             "apt-get install $(FUZZ_PACKAGES)"; \
	        exit 1; \
	    fi; \
	    echo "installing: $(FUZZ_PACKAGES)"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        --no-install-recommends $(FUZZ_PACKAGES) >/dev/null; \
	fi
endef

# run every harness for $(1) seconds on a scratch copy of its corpus;
# new crashes land in $(FUZZ_DIR)/artifacts/
define FUZZ_RUN
	@mkdir -p $(FUZZ_DIR)/artifacts
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
	    work=$(FUZZ_DIR)/work/$$t; \
	    rm -rf $$work && mkdir -p $$work && \
	    cp fuzz/corpus/$$t/* $$work/ && \
	    case $$t in \
	        base64) opts="$(FUZZ_OPTS_base64)" ;; \
	        jws)    opts="$(FUZZ_OPTS_jws)" ;; \
	        claims) opts="$(FUZZ_OPTS_claims)" ;; \
	        jwe)    opts="$(FUZZ_OPTS_jwe)" ;; \
	        scope)  opts="$(FUZZ_OPTS_scope)" ;; \
	        mint)   opts="$(FUZZ_OPTS_mint)" ;; \
	        path)   opts="$(FUZZ_OPTS_path)" ;; \
	        revoke) opts="$(FUZZ_OPTS_revoke)" ;; \
	        grant)  opts="$(FUZZ_OPTS_grant)" ;; \
	        chain)  opts="$(FUZZ_OPTS_chain)" ;; \
	        mcp)    opts="$(FUZZ_OPTS_mcp)" ;; \
	        scrub)  opts="$(FUZZ_OPTS_scrub)" ;; \
	        dpop)   opts="$(FUZZ_OPTS_dpop)" ;; \
	        *)      opts="$(FUZZ_OPTS_jwks)" ;; \
	    esac; \
	    echo "== fuzz_$$t: $(1) s $$opts"; \
	    if ! $(FUZZ_DIR)/fuzz_$$t $$opts -max_total_time=$(1) \
	            -dict=fuzz/jose.dict -print_final_stats=1 \
	            -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	            $$work >$(FUZZ_DIR)/fuzz_$$t.log 2>&1; then \
	        failed="$$failed $$t"; \
	        tail -n 60 $(FUZZ_DIR)/fuzz_$$t.log; \
	    fi; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
	        $(FUZZ_DIR)/fuzz_$$t.log | sed 's/^/   /'; \
	done; \
	if [ -n "$$failed" ]; then \
	    echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_DIR)/artifacts/," \
	         "logs in $(FUZZ_DIR)/fuzz_*.log)"; \
	    exit 1; \
	fi
endef

$(FUZZ_DIR)/obj/%.o: $(SRC_DIR)/%.c $(CORE_HDRS)
	@mkdir -p $(FUZZ_DIR)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	    -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/common.h fuzz/fixtures.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_OBJS) $(LIBS_CORE)

fuzz:
	$(FUZZ_NEED_CLANG)
	$(MAKE) $(FUZZ_BINS)
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke:
	$(FUZZ_NEED_CLANG)
	$(MAKE) $(FUZZ_BINS)
	$(call FUZZ_RUN,10)

$(ASAN_DIR)/%: t/unit/%.c t/unit/tap.h $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(ASAN_DIR)
	$(ASAN_CC) $(CFLAGS_CORE) $(ASAN_FLAGS) -It/unit -o $@ $< $(CORE_SRCS) \
	    $(LIBS_CORE)

check-memory: $(ASAN_BINS) $(UNIT_BINS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    prove $(ASAN_BINS)
	@if command -v valgrind >/dev/null 2>&1; then \
	    for t in $(UNIT_BINS); do \
	        echo "== valgrind $$t"; \
	        valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
	            --error-exitcode=1 $$t >/dev/null || exit 1; \
	    done; \
	else \
	    echo "check-memory: valgrind not installed, skipped"; \
	fi

# ---- benchmark (bench/; not part of "make test") ---------------------
#
#   make bench      wrk on loopback against one worker: plain proxy, cache
#                   hit, cold path, every algorithm, RSS (bench/run.sh);
#                   then two workers: the cold path's scaling, the shared
#                   cache against the per-worker one (bench/shcache.sh);
#                   see docs/benchmarks.md.  About 9 minutes; BENCH_*
#                   settings are described in the two scripts.

MT_BENCH     := $(BUILD)/mt_bench

.PHONY: bench

$(MT_BENCH): bench/mt_bench.c $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) -o $@ bench/mt_bench.c $(CORE_SRCS) $(LIBS_CORE)

bench: module cli $(MT_BENCH)
	bash bench/run.sh
	bash bench/shcache.sh

# ---- attack/hygiene suites under valgrind, soak (issue #5) --------------
#
#   make check-valgrind   Test::Nginx suites with nginx under valgrind
#                         memcheck (valgrind.suppress: Debian nginx's own
#                         single-process leaks).  VALGRIND_SUITES picks the
#                         .t files; slow (minutes), not part of `make test`.
#   make soak             bench/soak.sh: wrk load with reloads, including
#                         reloads with a broken key file (SOAK_SECONDS=60).

VALGRIND_SUITES ?= t/001-basic.t t/004-claims.t t/050-attacks.t t/051-hygiene.t

.PHONY: check-valgrind soak

check-valgrind: module cli
	@command -v valgrind >/dev/null 2>&1 \
	    || { echo "check-valgrind: valgrind is not installed"; exit 1; }
	TEST_NGINX_USE_VALGRIND=1 TEST_NGINX_TIMEOUT=$${TEST_NGINX_TIMEOUT:-60} \
	    TEST_NGINX_BINARY=$(NGINX_BIN) \
	    prove $(PROVE_INC) $(VALGRIND_SUITES)

soak: module
	@command -v wrk >/dev/null 2>&1 || { \
	    echo "soak: installing wrk"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
	NGINX_BIN=$(NGINX_BIN) bash bench/soak.sh

# ---- Debian package (debian/; docs/packaging.md) -----------------------
#
#   make deb        build/libnginx-mod-http-magic-token_<version>_<arch>.deb
#                   with dpkg-buildpackage (dh calls this Makefile) on a
#                   copy of the tree in build/deb/, then lintian on it.
#                   The version is debian/changelog's; the package depends
#                   on the ABI of the installed nginx (nginx-abi-*).
#   make deb-test   make deb, then t/080-deb.t (as root): install the
#                   package into the system's nginx, a real request
#                   through it, purge, nothing left behind.

DEB_NAME     := libnginx-mod-http-magic-token
DEB_ARCH     := $(shell dpkg --print-architecture 2>/dev/null)
DEB_FILE     := $(BUILD)/$(DEB_NAME)_$(VERSION)_$(DEB_ARCH).deb
DEB_STAGE    := $(BUILD)/deb
DEB_TOOLS    := debhelper dpkg-dev lintian nginx nginx-dev libssl-dev \
                libjansson-dev libpcre2-dev zlib1g-dev gcc make

.PHONY: deb deb-deps deb-test

deb-deps:
	@missing=""; \
	for p in $(DEB_TOOLS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null \
	        | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "deb: need$$missing: apt-get install$$missing"; \
	        exit 1; \
	    fi; \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        -o DPkg::Lock::Timeout=300 \
	        --no-install-recommends $$missing >/dev/null; \
	fi

deb: deb-deps
	rm -rf $(DEB_STAGE)
	mkdir -p $(DEB_STAGE)/$(DEB_NAME)-$(VERSION)
	tar -cf - --exclude=./$(BUILD) --exclude=./.git \
	    --exclude=./t/servroot --exclude=./t/tools/interop/node_modules \
	    --exclude=__pycache__ . \
	    | tar -xf - -C $(DEB_STAGE)/$(DEB_NAME)-$(VERSION)
	cd $(DEB_STAGE)/$(DEB_NAME)-$(VERSION) \
	    && dpkg-buildpackage -b -us -uc >../build.log 2>&1 \
	    || { tail -n 40 $(DEB_STAGE)/build.log; \
	         echo "deb: dpkg-buildpackage failed, log in" \
	              "$(DEB_STAGE)/build.log"; exit 1; }
	cp $(DEB_STAGE)/$(notdir $(DEB_FILE)) $(DEB_FILE)
	@echo "== $(DEB_FILE)"
	@dpkg-deb --field $(DEB_FILE) Package Version Architecture Depends
	lintian --fail-on error,warning --display-info $(DEB_FILE)

deb-test: deb
	MT_DEB=$(DEB_FILE) prove -v t/080-deb.t
