# Bulwark build.  A plain GNU Makefile: every .c under src/<module>/ is picked
# up by wildcard, so adding a file needs no build edit.
#   make run        install missing packages, build, start the main job
#   make test       install missing packages, build, run every test
#   make test SAN=1 the same under ASan + UBSan (separate build directory)
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      the throughput comparison with clamscan (bench/README)

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT := -O1
else
BUILD ?= build
SANFLAGS :=
OPT := -O2
endif

CC ?= cc
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PKGS := libhs libarchive libcrypto zlib libzstd libbrotlidec inih libuv libmicrohttpd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
          -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) -pthread $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(PKG_LIBS) -lm

LIB_SRC := $(sort $(wildcard src/core/*.c src/engine/*.c src/policy/*.c src/icap/*.c src/app/*.c))
DAEMON_SRC := $(sort $(wildcard src/daemon/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz-*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

LIBBW := $(BUILD)/libbulwark.a
BULWARK := $(BUILD)/bulwark
BULWARKD := $(BUILD)/bulwarkd


.PHONY: all deps build run demo test test-only fuzz fuzz-build bench clean
all: build

deps:
	@scripts/install-deps.sh

build: $(BULWARK) $(if $(DAEMON_SRC),$(BULWARKD)) $(UNIT_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBBW): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BULWARK): $(CLI_OBJ) $(LIBBW)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIBBW) $(LIBS)

$(BULWARKD): $(DAEMON_OBJ) $(LIBBW)
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJ) $(LIBBW) $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIBBW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIBBW) $(LIBS)

# The main job: bulwarkd in the foreground with conf/bulwark.conf (the bundled
# test database, ICAP on 127.0.0.1:1344).  `make demo` is the scan demo.
run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@echo "bulwarkd on icap://127.0.0.1:1344/av/respmod and /av/reqmod (Ctrl-C stops it)"
	exec $(BUILD)/bulwarkd -c conf/bulwark.conf -f

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo-scan.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@$(MAKE) --no-print-directory fuzz-build
	@BUILD=$(BUILD) SAN=$(SAN) tests/run.sh

# Fuzzers are built with clang (libFuzzer) and ASan into their own directory.
FUZZ_BUILD := build-fuzz
fuzz-build:
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=$(FUZZ_BUILD) CC=clang SAN=0 \
	  EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
	  $(FUZZ_BUILD)/libbulwark.a
	@mkdir -p $(FUZZ_BUILD)/fuzz
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  if [ ! $(FUZZ_BUILD)/fuzz/$$n -nt $$f ] || [ ! $(FUZZ_BUILD)/fuzz/$$n -nt $(FUZZ_BUILD)/libbulwark.a ]; then \
	  echo "clang $$n"; clang -std=gnu11 -g -O1 -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) \
	    -fsanitize=fuzzer,address,undefined -o $(FUZZ_BUILD)/fuzz/$$n $$f $(FUZZ_BUILD)/libbulwark.a $(LIBS) -pthread || exit 1; fi; done

FUZZ_SECONDS ?= 60
fuzz: deps fuzz-build
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  tests/fuzz/run-one.sh $(FUZZ_BUILD)/fuzz/$$n $(FUZZ_SECONDS) || exit 1; done

bench: deps
	@$(MAKE) --no-print-directory build
	@bench/run.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d)
