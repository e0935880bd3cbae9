# ngx_http_magic_token_module
SHELL        := /bin/bash
#
#   make            build build/ngx_http_magic_token_module.so against the
#                   installed Debian nginx (nginx-dev's tree in
#                   /usr/share/nginx/src), or NGINX_SRC=/path/to/nginx
#   make test       install what is missing, build, run every test
#   make demo       install what is missing, build, run the demo
#   make install    copy the module to $(MODULES_DIR)

NGINX_SRC    ?= /usr/share/nginx/src
NGINX_BIN    ?= /usr/sbin/nginx
MODULES_DIR  ?= /usr/lib/nginx/modules
BUILD        ?= build
CC           ?= cc
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
# modules" recompiles only what changed.
$(BUILD)/nginx/objs/Makefile: config
	rm -rf $(BUILD)/nginx
	mkdir -p $(BUILD)
	cp -r $(NGINX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && \
	    if [ -f conf_flags ]; then \
	        . ./conf_flags; \
	        ./configure "$${NGX_CONF_FLAGS[@]}" \
	            --add-dynamic-module=$(CURDIR) >configure.log 2>&1; \
	    else \
	        ./configure --with-compat \
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

nginx-test: module cli interop-deps
	TEST_NGINX_BINARY=$(NGINX_BIN) prove $(PROVE_INC) -r t/

# the npm "jose" package for t/042-interop.t (skipped there when missing)
interop-deps:
	@if command -v npm >/dev/null 2>&1 \
	    && [ ! -d t/tools/interop/node_modules/jose ]; then \
	    (cd t/tools/interop && npm ci --no-audit --no-fund --silent) \
	        || echo "npm ci failed: the jose interop tests will be skipped"; \
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

# ---- magic-token CLI (cli/) -------------------------------------------
#
#   make cli            build/magic-token, linked with the core (mt_*.c)
#   make cli-install    copy it to $(BINDIR)

BINDIR       ?= /usr/local/bin
CLI          := $(BUILD)/magic-token
CLI_SRCS     := $(wildcard cli/*.c)
CLI_HDRS     := $(wildcard cli/*.h)

.PHONY: cli cli-install

cli: $(CLI)

$(CLI): $(CLI_SRCS) $(CLI_HDRS) $(CORE_SRCS) $(CORE_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_CORE) -Icli -o $@.tmp $(CLI_SRCS) $(CORE_SRCS) \
	    $(LIBS_CORE)
	mv -f $@.tmp $@

cli-install: cli
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/magic-token
