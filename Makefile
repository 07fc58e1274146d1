# tokenbroker: tokenbrokerd (daemon) and tokenctl (client)

PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc
BUILD       ?= build
PKGS         = libevent libcurl yajl libxml-2.0 libsystemd inih libcrypto
CLIENT_PKGS  = yajl

# Debian 12 packages that provide the above, plus what the tests use
# (systemd-container: systemd-nspawn, for tests/system/).
DEB_PKGS = build-essential pkg-config libevent-dev libcurl4-openssl-dev \
	libyajl-dev libxml2-dev libsystemd-dev libinih-dev libssl-dev \
	libcmocka-dev curl openssl perl procps util-linux valgrind systemd \
	mandoc man-db systemd-container

WARN     = -Wall -Wextra -Wshadow -Wformat=2 -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wno-unused-parameter -Werror
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -Icommon -Idaemon \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS       = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CLIENT_LIBS = $(shell pkg-config --libs $(CLIENT_PKGS) 2>/dev/null)
EVENT_LIBS = $(shell pkg-config --libs libevent 2>/dev/null)
FAKEIDP_LIBS = $(shell pkg-config --libs libevent_openssl openssl 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

COMMON_SRC = $(wildcard common/*.c)
DAEMON_SRC = $(wildcard daemon/*.c)
CLIENT_SRC = $(wildcard client/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
FAKEIDP_SRC = $(wildcard tests/fakeidp/*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(BUILD)/%.o)
DAEMON_LIB_OBJ = $(filter-out $(BUILD)/daemon/main.o,$(DAEMON_OBJ))
CLIENT_OBJ = $(CLIENT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Not under $(BUILD)/tests/fakeidp/: that is the program.
FAKEIDP_OBJ = $(FAKEIDP_SRC:tests/fakeidp/%.c=$(BUILD)/tests/fakeidp-obj/%.o)

all: $(BUILD)/tokenbrokerd $(BUILD)/tokenctl $(BUILD)/tests/fakeidp $(BUILD)/tests/notifylisten
	@ln -sf $(BUILD)/tokenbrokerd tokenbrokerd
	@ln -sf $(BUILD)/tokenctl tokenctl

$(BUILD)/%.o: %.c $(wildcard common/*.h daemon/*.h client/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/fakeidp-obj/%.o: tests/fakeidp/%.c $(wildcard common/*.h tests/fakeidp/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/libdaemon.a: $(DAEMON_LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/tokenbrokerd: $(BUILD)/daemon/main.o $(BUILD)/libdaemon.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tokenctl: $(CLIENT_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(BUILD)/tests/fakeidp: $(FAKEIDP_OBJ) $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(FAKEIDP_LIBS)

$(BUILD)/tests/notifylisten: $(BUILD)/tests/notifylisten.o $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(BUILD)/libdaemon.a $(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

unit: $(UNIT_BIN)

# The load generator for bench/run.sh.
$(BUILD)/bench/loadgen: bench/loadgen.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(EVENT_LIBS)

bench: $(BUILD)/bench/loadgen

# Installs what is missing from Debian's packages (root), or says how to.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
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

asan:
	$(MAKE) BUILD=build/asan CC=gcc \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		all unit

check: deps
	$(MAKE) all unit
	$(MAKE) asan
	./tests/run-tests build
	./tests/run-tests build/asan
	./tests/run-tests --system build

demo: deps
	$(MAKE) all
	./tests/demo.sh

clean:
	rm -rf build tokenbrokerd tokenctl

include install.mk

.PHONY: all unit bench deps asan check demo clean install uninstall
