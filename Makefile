# tokenbroker: tokenbrokerd (daemon) and tokenctl (client)

PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc
BUILD       ?= build
PKGS         = libevent libcurl yajl libxml-2.0 libsystemd libcrypto libssl
CLIENT_PKGS  = yajl

# Debian 12 packages that provide the above, plus what the tests use
# (systemd-container: systemd-nspawn, for tests/system/; clang and
# libclang-rt-14-dev, whose libclang_rt.fuzzer is libFuzzer: tests/fuzz/;
# debhelper and lintian: make deb and its test; zsh and fish, whose
# completions of tokenctl are tested in those shells; git and its
# http-backend: tokenctl-git.t).
DEB_PKGS = build-essential pkg-config libevent-dev libcurl4-openssl-dev \
	libyajl-dev libxml2-dev libsystemd-dev libssl-dev \
	libcmocka-dev curl openssl perl procps util-linux valgrind systemd \
	mandoc man-db systemd-container nginx clang libclang-rt-14-dev \
	debhelper lintian zsh fish git

WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter -Werror
CFLAGS  ?= -O2 -g

# pkg-config's answer for packages, or the build stops naming the missing
# ones.  Only recipes that compile or link expand it, so deps, clean and
# install work on a machine that does not have the packages yet.
tb_missing = $(if $(shell command -v pkg-config 2>/dev/null),pkg-config cannot find $(strip \
	$(shell for p in $(1); do pkg-config --exists $$p || echo $$p; done)),pkg-config is not installed)
tb_pkg = $(if $(shell pkg-config --exists $(2) 2>/dev/null && echo ok),$(shell pkg-config $(1) $(2)),$(error \
	cannot build: $(call tb_missing,$(2)); run 'make deps' (as root) to install what is missing))
# NAME = $(call tb_once,NAME,OPTION,PACKAGES): pkg-config runs on first use only.
tb_once = $(eval $(1) := $$(call tb_pkg,$(2),$(3)))$($(1))

PKG_CFLAGS   = $(call tb_once,PKG_CFLAGS,--cflags,$(PKGS))
LIBS         = $(call tb_once,LIBS,--libs,$(PKGS))
# tokenctl is started once per token by scripts, so it is linked statically
# (position-independent: its addresses are still random), with yajl from
# libyajl-dev's libyajl_s.a: no dynamic loader to find, map and relocate
# libraries at every start, which costs more than the rest of its work.
# It uses nothing of glibc that needs NSS or dlopen.  The sanitizer build
# links it dynamically (CLIENT_STATIC=), as the sanitizers need.
CLIENT_STATIC ?= -static-pie
CLIENT_LIBS  = $(call tb_once,CLIENT_LIBS,--libs-only-L,$(CLIENT_PKGS)) -l:libyajl_s.a
EVENT_LIBS   = $(call tb_once,EVENT_LIBS,--libs,libevent)
YAJL_LIBS    = $(call tb_once,YAJL_LIBS,--libs,yajl)
FAKEIDP_LIBS = $(call tb_once,FAKEIDP_LIBS,--libs,libevent_openssl openssl)
CMOCKA_LIBS  = $(call tb_once,CMOCKA_LIBS,--libs,cmocka)

# Each tree sees its own headers and common's, and common only its own:
# TREE_INC is set per object below.  -MMD -MP: each object's .d lists the
# headers it includes, so a header change rebuilds just those objects.
ALL_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) -D_GNU_SOURCE $(TREE_INC) $(PKG_CFLAGS)
DEPFLAGS   = -MMD -MP

COMMON_SRC = $(wildcard common/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
CLIENT_SRC = $(wildcard client/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
FAKEIDP_SRC = $(wildcard tests/fakeidp/*.c)
FAKEAPI_SRC = $(wildcard tests/fakeapi/*.c)
FAULTSRV_SRC = $(wildcard tests/faultsrv/*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_LIB_OBJ = $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJ))
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ   = $(UNIT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Not under $(BUILD)/tests/fakeidp/: that is the program.
FAKEIDP_OBJ = $(FAKEIDP_SRC:tests/fakeidp/%.c=$(BUILD)/tests/fakeidp-obj/%.o)
FAKEAPI_OBJ = $(FAKEAPI_SRC:tests/fakeapi/%.c=$(BUILD)/tests/fakeapi-obj/%.o)
FAULTSRV_OBJ = $(FAULTSRV_SRC:tests/faultsrv/%.c=$(BUILD)/tests/faultsrv-obj/%.o)
# fakeapi's and faultsrv's server helpers are fakeidp's.
FAKEAPI_SHARED_OBJ = $(patsubst %,$(BUILD)/tests/fakeidp-obj/%.o,serve http json form util)
NOTIFYLISTEN_OBJ = $(BUILD)/tests/notifylisten.o
LOADGEN = $(BUILD)/bench/loadgen

$(COMMON_OBJ): TREE_INC = -Icommon
$(DAEMON_OBJ) $(UNIT_OBJ): TREE_INC = -Icommon -Idaemon
$(CLIENT_OBJ): TREE_INC = -Icommon -Iclient
$(FAKEIDP_OBJ) $(NOTIFYLISTEN_OBJ) $(LOADGEN): TREE_INC = -Icommon
$(FAKEAPI_OBJ) $(FAULTSRV_OBJ): TREE_INC = -Icommon -Itests/fakeidp

all: $(BUILD)/tokenbrokerd $(BUILD)/tokenctl $(BUILD)/tests/fakeidp $(BUILD)/tests/fakeapi \
	$(BUILD)/tests/notifylisten $(BUILD)/tests/faultsrv $(LOADGEN)
	@ln -sf $(BUILD)/tokenbrokerd tokenbrokerd
	@ln -sf $(BUILD)/tokenctl tokenctl

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/fakeidp-obj/%.o: tests/fakeidp/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/fakeapi-obj/%.o: tests/fakeapi/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/tests/faultsrv-obj/%.o: tests/faultsrv/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libdaemon.a: $(DAEMON_LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/tokenbrokerd: $(BUILD)/daemon/main.o $(BUILD)/libdaemon.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tokenctl: $(CLIENT_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) $(CLIENT_STATIC) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/tests/fakeidp: $(FAKEIDP_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS) $(FAKEIDP_LIBS)

$(BUILD)/tests/fakeapi: $(FAKEAPI_OBJ) $(FAKEAPI_SHARED_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/faultsrv: $(FAULTSRV_OBJ) $(FAKEAPI_SHARED_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/notifylisten: $(NOTIFYLISTEN_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# test_credential moves the clocks: the daemon's calls to them are wrapped.
TEST_LDFLAGS_credential = -Wl,--wrap=timeutil_mono_ms -Wl,--wrap=timeutil_wall_ms

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libdaemon.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) $(TEST_LDFLAGS_$*) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

# test_ctlcred tests tokenctl's pure part, client/ctlcred.c: it sees the
# client's headers and links that one object, not the daemon.
$(BUILD)/tests/unit/test_ctlcred.o: TREE_INC = -Icommon -Iclient
$(BUILD)/tests/test_ctlcred: $(BUILD)/tests/unit/test_ctlcred.o $(BUILD)/client/ctlcred.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)

# The load generator for bench/run.sh, and the hostile clients of the
# integration tests (bench/abuse.c).  Two sources in one command: their
# headers are listed here, not in a .d file.
$(LOADGEN): bench/loadgen.c bench/abuse.c bench/abuse.h bench/http1.h bench/util.h Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.c,$^) $(EVENT_LIBS)

# The upstream bench/proxy.sh puts behind the proxies (no libraries).
UPSTREAM = $(BUILD)/bench/upstream
$(UPSTREAM): bench/upstream.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -o $@ $<
-include $(UPSTREAM).d

# The ceilings bench/side.sh sets beside the daemon: a bare epoll server (no
# libraries) and a bare evhttp one that makes its JSON with yajl.
CEIL_EPOLL = $(BUILD)/bench/ceil-epoll
CEIL_EVHTTP = $(BUILD)/bench/ceil-evhttp
$(CEIL_EPOLL): bench/ceil-epoll.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -o $@ $<
$(CEIL_EVHTTP): bench/ceil-evhttp.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MF $@.d -MT $@ -o $@ $< $(EVENT_LIBS) $(YAJL_LIBS)
-include $(CEIL_EPOLL).d $(CEIL_EVHTTP).d

bench: $(LOADGEN) $(UPSTREAM) $(CEIL_EPOLL) $(CEIL_EVHTTP)

# kubectl for tests/integration/tokenctl-kubectl.t: Debian's
# kubernetes-client, only where no kubectl is on PATH (one from elsewhere,
# such as a cloud SDK's, would conflict with it in dpkg).
DEB_KUBECTL = kubernetes-client

# Installs what is missing from Debian's packages (root), or says how to.
deps:
	@pkgs="$(DEB_PKGS)"; \
	if ! command -v kubectl >/dev/null 2>&1; then pkgs="$$pkgs $(DEB_KUBECTL)"; fi; \
	missing=""; for p in $$pkgs; do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "missing packages; run as root:"; \
		echo "  apt-get install -y$$missing"; exit 1; \
	fi; \
	echo "installing:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing
	@$(MAKE) --no-print-directory oidc-deps

# The real authorization server of the integration tests (oidc-provider,
# pinned by tests/oidc/package-lock.json).  Node.js comes from Debian when
# there is none; a machine that cannot reach the npm registry skips those
# tests, which say so.
oidc-deps:
	@[ -d tests/oidc/node_modules ] && exit 0; \
	if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing: nodejs npm"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			nodejs npm || true; \
	fi; \
	if command -v npm >/dev/null; then \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error || \
			echo "oidc-deps: npm ci failed; the tests against oidc-provider will be skipped"; \
	else \
		echo "oidc-deps: no npm; the tests against oidc-provider will be skipped"; \
	fi

asan:
	$(MAKE) BUILD=build/asan CC=gcc CLIENT_STATIC= \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		all unit

check: deps
	$(MAKE) all unit
	$(MAKE) asan
	./tests/run-tests build
	TB_BUILD=build SOAK_SECONDS=45 SOAK_CREDS=50 prove --exec '' tests/soak/soak.sh
	TB_BUILD=build SCALE_SECONDS=60 SCALE_CREDS=1000 prove --exec '' tests/scale/scale.sh
	./tests/run-tests build/asan
	$(MAKE) fuzz-smoke
	./tests/run-tests --system build

# The soak (tests/soak/soak.sh): SOAK_SECONDS with SOAK_CREDS credentials
# whose tokens live 2 s, against the build in BUILD (build/asan: the ASan
# one).  Ten minutes by default.
SOAK_SECONDS ?= 600
SOAK_CREDS ?= 200
soak:
	$(MAKE) $(if $(findstring asan,$(BUILD)),asan,all)
	TB_BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CREDS=$(SOAK_CREDS) ./tests/soak/soak.sh

# Scale (tests/scale/scale.sh): SCALE_CREDS credentials with 60 s tokens
# for SCALE_SECONDS; counts asserted, timings reported.
SCALE_SECONDS ?= 300
SCALE_CREDS ?= 10000
scale:
	$(MAKE) all
	TB_BUILD=build SCALE_SECONDS=$(SCALE_SECONDS) SCALE_CREDS=$(SCALE_CREDS) ./tests/scale/scale.sh

# A Debian package: dpkg-buildpackage on a copy of the sources in
# $(BUILD)/deb (so that the tree stays clean and dpkg-buildpackage's
# results, written beside the source directory, stay inside $(BUILD));
# leaves tokenbroker_VERSION_ARCH.deb and its -dbgsym in $(BUILD).
# DEB_VERSION=V builds it as version V (a newer build, for an upgrade).
DEB_VERSION ?=
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || { \
		echo "make deb: needs dpkg-dev and debhelper; run 'make deps' (as root)" >&2; exit 1; }
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb/tokenbroker
	tar -cf - --exclude=./build --exclude=./.git --exclude=./tests/oidc/node_modules \
		--exclude=./tokenbrokerd --exclude=./tokenctl --exclude='./$(BUILD)' . | \
		tar -xf - -C $(BUILD)/deb/tokenbroker
	@if [ -n "$(DEB_VERSION)" ]; then \
		cd $(BUILD)/deb/tokenbroker && \
		{ printf 'tokenbroker (%s) unstable; urgency=medium\n\n  * Rebuilt as %s.\n\n' \
			"$(DEB_VERSION)" "$(DEB_VERSION)"; \
		  printf ' -- tokenbroker developers <tokenbroker@example.org>  %s\n\n' \
			"$$(date -R)"; cat debian/changelog; } >debian/changelog.new && \
		mv debian/changelog.new debian/changelog; \
	fi
	cd $(BUILD)/deb/tokenbroker && \
		DEB_BUILD_OPTIONS="nocheck parallel=$$(nproc)" dpkg-buildpackage -us -uc -b
	mv $(BUILD)/deb/*.deb $(BUILD)/
	@ls $(BUILD)/*.deb

demo: deps
	$(MAKE) all
	./tests/demo.sh

clean:
	rm -rf build tokenbrokerd tokenctl

# What -MMD wrote on the last build; absent ones are simply not there yet.
-include $(patsubst %.o,%.d,$(COMMON_OBJ) $(DAEMON_OBJ) $(CLIENT_OBJ) $(UNIT_OBJ) \
	$(FAKEIDP_OBJ) $(FAKEAPI_OBJ) $(FAULTSRV_OBJ) $(NOTIFYLISTEN_OBJ))

include install.mk
include tests/fuzz/fuzz.mk

.PHONY: all unit bench deps oidc-deps asan check soak scale deb demo clean install uninstall
