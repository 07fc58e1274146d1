# tests/fuzz/fuzz.mk: the libFuzzer harnesses of tests/fuzz/, included by the Makefile.
#
#   make fuzz                         builds them, runs each for FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=300 FUZZ_NAMES="response conf"
#   make fuzz-build                   builds them only: build/fuzz/fuzz_NAME
#
# clang builds them (libFuzzer, AddressSanitizer, UBSan) against the
# daemon's objects compiled again with the same flags in a build directory
# of their own, build/fuzz.  tests/fuzz/run runs them; it says where the
# corpora, dictionaries and findings are.  `make check` runs each for
# FUZZ_SMOKE_SECONDS.

FUZZ_BUILD   = build/fuzz
FUZZ_CC      = clang
# clang's -Wextra also warns in a system header's macro (NLMSG_OK, in
# sockdiag.c) and on log.c's vfprintf of a format it was handed: gcc, which
# builds the daemon, does not, so these two are not errors here.
FUZZ_CFLAGS  = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -Wno-sign-compare -Wno-format-nonliteral
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_NAMES   ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

FUZZ_OBJ     = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/fuzz/*.c))
FUZZ_BIN     = $(patsubst tests/fuzz/fuzz_%.c,$(BUILD)/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_OBJ): TREE_INC = -Icommon -Idaemon

# Run in the make that fuzz-build starts, where BUILD is build/fuzz.
$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzz.o $(BUILD)/libdaemon.a \
		$(BUILD)/libcommon.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz-bins: $(FUZZ_BIN)

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" fuzz-bins

fuzz: fuzz-build
	./tests/fuzz/run -b $(FUZZ_BUILD) -t $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	./tests/fuzz/run -b $(FUZZ_BUILD) -t $(FUZZ_SMOKE_SECONDS) $(FUZZ_NAMES)

-include $(FUZZ_OBJ:.o=.d)

.PHONY: fuzz fuzz-build fuzz-bins fuzz-smoke
