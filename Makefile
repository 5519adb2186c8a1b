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
PKGS := libhs libarchive libssl libcrypto zlib libzstd libbrotlidec inih libuv libmicrohttpd libcurl jansson hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
          -D_GNU_SOURCE -Iinclude -Isrc $(PKG_CFLAGS) $(shell pkg-config --cflags libpq 2>/dev/null) -pthread $(SANFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
LIBS := $(PKG_LIBS) -lm

LIB_SRC := $(sort $(wildcard src/core/*.c src/engine/*.c src/events/*.c src/policy/*.c src/icap/*.c \
  src/app/*.c src/quarantine/*.c src/update/*.c src/clamd/*.c src/rscan/*.c src/link/*.c))
DAEMON_SRC := $(sort $(wildcard src/daemon/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
# bulwark-console: its own program (HTTP API, storage, web UI); only it links
# SQLite, libpq and libargon2.
CONSOLE_SRC := $(sort $(wildcard src/console/*.c))
CONSOLE_PKGS := sqlite3 libpq libargon2
CONSOLE_LIBS := $(shell pkg-config --libs $(CONSOLE_PKGS) 2>/dev/null)
# bulwark-agent: the on-access (fanotify) agent, its own program.
AGENT_SRC := $(sort $(wildcard src/agent/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz-*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/%.o)
CONSOLE_OBJ := $(CONSOLE_SRC:%.c=$(BUILD)/%.o)
AGENT_OBJ := $(AGENT_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

LIBBW := $(BUILD)/libbulwark.a
BULWARK := $(BUILD)/bulwark
BULWARKD := $(BUILD)/bulwarkd
BULWARK_CONSOLE := $(BUILD)/bulwark-console
BULWARK_AGENT := $(BUILD)/bulwark-agent


.PHONY: all deps build run demo test test-only fuzz fuzz-build bench clean
all: build

deps:
	@scripts/install-deps.sh

build: $(BULWARK) $(if $(DAEMON_SRC),$(BULWARKD)) $(if $(CONSOLE_SRC),$(BULWARK_CONSOLE)) $(if $(AGENT_SRC),$(BULWARK_AGENT)) $(UNIT_BIN)

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

# The console's objects, except its main(), also link into the unit tests
# named test-console-*.c.
CONSOLE_LIB := $(BUILD)/libbwconsole.a
$(CONSOLE_LIB): $(filter-out $(BUILD)/src/console/console-main.o,$(CONSOLE_OBJ))
	@rm -f $@
	ar rcs $@ $^

$(BULWARK_CONSOLE): $(CONSOLE_OBJ) $(LIBBW)
	$(CC) $(LDFLAGS) -o $@ $(CONSOLE_OBJ) $(LIBBW) $(LIBS) $(CONSOLE_LIBS)

# The agent's objects, except its main(), also link into tests named test-agent-*.c.
AGENT_LIB := $(BUILD)/libbwagent.a
$(AGENT_LIB): $(filter-out $(BUILD)/src/agent/agent-main.o,$(AGENT_OBJ))
	@rm -f $@
	ar rcs $@ $^

$(BULWARK_AGENT): $(AGENT_OBJ) $(LIBBW)
	$(CC) $(LDFLAGS) -o $@ $(AGENT_OBJ) $(LIBBW) $(LIBS)

$(BUILD)/tests/test-agent-%: tests/unit/test-agent-%.c $(wildcard tests/unit/*.h) $(AGENT_LIB) $(LIBBW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(AGENT_LIB) $(LIBBW) $(LIBS)

$(BUILD)/tests/test-console-%: tests/unit/test-console-%.c $(wildcard tests/unit/*.h) $(CONSOLE_LIB) $(LIBBW)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(CONSOLE_LIB) $(LIBBW) $(LIBS) $(CONSOLE_LIBS)

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

# ---- install, uninstall, man -----------------------------------------------
# `make install` copies what `make build` left in $(BUILD) and never builds:
# run `make build` as yourself first, then `sudo make install` (with the same
# BUILD=).  DESTDIR stages into a tree for a package.  PREFIX places the
# programs, manual pages and data; configuration, state, logs and runtime
# files go to /etc, /var and /run whatever PREFIX is (the programs' compiled-in
# defaults), unless SYSCONFDIR, LOCALSTATEDIR or RUNSTATEDIR say otherwise.
# Without DESTDIR and as root it also creates the bulwark user when missing
# (CREATE_USER=no to skip) and gives it its directories; with DESTDIR that is
# the package's job (packaging/sysusers.d, packaging/tmpfiles.d).
# Details: docs/install.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
RUNSTATEDIR ?= /run
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
INITDIR ?= $(SYSCONFDIR)/init.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
INSTALL_TESTDB ?= yes
CREATE_USER ?= yes

# The packaging files name the standard paths; this follows the variables.
PKG_STAGE := $(BUILD)/pkg
PKG_SED := sed -e 's|/usr/sbin/bulwarkd|$(SBINDIR)/bulwarkd|g' -e 's|/usr/bin/bulwark|$(BINDIR)/bulwark|g' \
  -e 's|/usr/sbin/bulwark-console|$(SBINDIR)/bulwark-console|g' -e 's|/usr/sbin/bulwark-agent|$(SBINDIR)/bulwark-agent|g' \
  -e 's|/usr/share/bulwark|$(DATADIR)/bulwark|g' -e 's|/etc/bulwark|$(SYSCONFDIR)/bulwark|g' \
  -e 's|/var/lib/bulwark|$(LOCALSTATEDIR)/lib/bulwark|g' -e 's|/var/log/bulwark|$(LOCALSTATEDIR)/log/bulwark|g' \
  -e 's|/run/bulwark|$(RUNSTATEDIR)/bulwark|g'
PKG_UNITS := bulwarkd.service bulwark-update.service bulwark-update.timer bulwark-console.service \
  bulwark-agent.service
# The console's web UI (src/console/ui, kept with its sub-directories).
CONSOLE_UI := $(shell cd src/console/ui 2>/dev/null && find . -type f ! -name '.*' | sed 's|^\./||' | sort)
CONSOLE_UI_DIRS := $(sort $(filter-out ./,$(dir $(CONSOLE_UI))))
PKG_TEMPLATES := $(notdir $(wildcard conf/templates/*.html))
PKG_TESTDB := $(notdir $(wildcard db/test/*))
D := $(DESTDIR)
BW_LIB := $(LOCALSTATEDIR)/lib/bulwark
BW_LOG := $(LOCALSTATEDIR)/log/bulwark

.PHONY: install uninstall man install-check
install-check:
	@for f in $(BULWARK) $(BULWARKD) $(BULWARK_CONSOLE) $(BULWARK_AGENT); do [ -x "$$f" ] || { \
	  echo "make install: $$f is missing: run 'make BUILD=$(BUILD) build' first" >&2; exit 1; }; done

# bulwark.conf(5): the template with the key reference of the built bulwarkd.
man: install-check
	@mkdir -p $(BUILD)/man
	$(BULWARKD) --config-doc > $(BUILD)/man/config-doc.md
	scripts/conf-man.sh man/bulwark.conf.5.in < $(BUILD)/man/config-doc.md > $(BUILD)/man/bulwark.conf.5

install: man
	@rm -rf $(PKG_STAGE) && mkdir -p $(PKG_STAGE)
	packaging/system-conf.sh conf/bulwark.conf $(SYSCONFDIR) $(DATADIR) $(LOCALSTATEDIR) $(RUNSTATEDIR) > $(PKG_STAGE)/bulwark.conf
	@set -e; for f in $(addprefix packaging/systemd/,$(PKG_UNITS)) man/bulwark.1 man/bulwarkd.8 \
	  man/bulwark-console.8 man/bulwark-agent.8 conf/console.conf conf/agent.conf $(BUILD)/man/bulwark.conf.5; do $(PKG_SED) "$$f" > $(PKG_STAGE)/$$(basename $$f); done; \
	  for f in init.d/bulwarkd logrotate/bulwark sysusers.d/bulwark.conf sysusers.d/bulwark-console.conf \
	  tmpfiles.d/bulwark.conf; do \
	  $(PKG_SED) "packaging/$$f" > $(PKG_STAGE)/$$(echo $$f | tr / -); done
	install -d -m 0755 $(D)$(BINDIR) $(D)$(SBINDIR) $(D)$(MANDIR)/man1 $(D)$(MANDIR)/man5 $(D)$(MANDIR)/man8 \
	  $(D)$(SYSCONFDIR)/bulwark $(D)$(DATADIR)/bulwark/templates $(D)$(SYSTEMDUNITDIR) \
	  $(D)$(SYSUSERSDIR) $(D)$(TMPFILESDIR) $(D)$(INITDIR) $(D)$(LOGROTATEDIR)
	install -m 0755 $(BULWARK) $(D)$(BINDIR)/bulwark
	install -m 0755 $(BULWARKD) $(D)$(SBINDIR)/bulwarkd
	install -m 0755 $(BULWARK_CONSOLE) $(D)$(SBINDIR)/bulwark-console
	install -m 0755 $(BULWARK_AGENT) $(D)$(SBINDIR)/bulwark-agent
	install -m 0644 $(PKG_STAGE)/bulwark-agent.8 $(D)$(MANDIR)/man8/bulwark-agent.8
	install -d -m 0755 $(D)$(DATADIR)/bulwark/console-ui $(addprefix $(D)$(DATADIR)/bulwark/console-ui/,$(CONSOLE_UI_DIRS))
	@set -e; for f in $(CONSOLE_UI); do echo "install -m 0644 src/console/ui/$$f $(D)$(DATADIR)/bulwark/console-ui/$$f"; \
	  install -m 0644 "src/console/ui/$$f" "$(D)$(DATADIR)/bulwark/console-ui/$$f"; done
	install -m 0644 $(PKG_STAGE)/bulwark-console.8 $(D)$(MANDIR)/man8/bulwark-console.8
	install -m 0644 $(PKG_STAGE)/sysusers.d-bulwark-console.conf $(D)$(SYSUSERSDIR)/bulwark-console.conf
	install -m 0644 $(addprefix conf/templates/,$(PKG_TEMPLATES)) $(D)$(DATADIR)/bulwark/templates/
	@if [ "$(INSTALL_TESTDB)" = yes ]; then set -x; install -d -m 0755 $(D)$(DATADIR)/bulwark/db-test && \
	  install -m 0644 $(addprefix db/test/,$(PKG_TESTDB)) $(D)$(DATADIR)/bulwark/db-test/; fi
	install -m 0644 $(PKG_STAGE)/bulwark.1 $(D)$(MANDIR)/man1/bulwark.1
	install -m 0644 $(PKG_STAGE)/bulwark.conf.5 $(D)$(MANDIR)/man5/bulwark.conf.5
	install -m 0644 $(PKG_STAGE)/bulwarkd.8 $(D)$(MANDIR)/man8/bulwarkd.8
	install -m 0644 $(addprefix $(PKG_STAGE)/,$(PKG_UNITS)) $(D)$(SYSTEMDUNITDIR)/
	install -m 0644 $(PKG_STAGE)/sysusers.d-bulwark.conf $(D)$(SYSUSERSDIR)/bulwark.conf
	install -m 0644 $(PKG_STAGE)/tmpfiles.d-bulwark.conf $(D)$(TMPFILESDIR)/bulwark.conf
	install -m 0755 $(PKG_STAGE)/init.d-bulwarkd $(D)$(INITDIR)/bulwarkd
	install -m 0644 $(PKG_STAGE)/logrotate-bulwark $(D)$(LOGROTATEDIR)/bulwark
	@# An existing configuration is the administrator's: never overwritten.
	@for c in bulwark.conf console.conf agent.conf; do conf=$(D)$(SYSCONFDIR)/bulwark/$$c; \
	if [ ! -e "$$conf" ]; then echo "install -m 0644 $(PKG_STAGE)/$$c $$conf"; \
	  install -m 0644 $(PKG_STAGE)/$$c "$$conf"; \
	elif ! cmp -s $(PKG_STAGE)/$$c "$$conf"; then \
	  install -m 0644 $(PKG_STAGE)/$$c "$$conf.dist"; \
	  echo "make install: kept your $$conf; the new default is $$conf.dist"; fi; done
	install -d -m 0755 $(D)$(BW_LIB) $(D)$(BW_LIB)/db
	@# The compiled-database cache is root's (bulwarkd maps it as its database).
	install -d -m 0755 $(D)$(BW_LIB)/cache
	install -d -m 0750 $(D)$(BW_LOG)
	install -d -m 0700 $(D)$(BW_LIB)/quarantine
	@# Without DESTDIR, as root: the bulwark user and its directories.
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then \
	  if ! getent passwd bulwark >/dev/null && [ "$(CREATE_USER)" = yes ]; then \
	    if command -v systemd-sysusers >/dev/null; then set -x; systemd-sysusers $(SYSUSERSDIR)/bulwark.conf; \
	    else set -x; useradd --system --user-group --no-create-home --home-dir $(BW_LIB) \
	      --shell /usr/sbin/nologin --comment "Bulwark anti-malware service" bulwark; fi; set +x; fi; \
	  if getent passwd bulwark >/dev/null; then set -x; \
	    chown bulwark:bulwark $(BW_LIB) $(BW_LIB)/db $(BW_LIB)/quarantine $(BW_LOG); \
	    chown root:root $(BW_LIB)/cache; chmod 0755 $(BW_LIB)/cache; set +x; \
	  if ! getent passwd bulwark-console >/dev/null && [ "$(CREATE_USER)" = yes ]; then \
	    if command -v systemd-sysusers >/dev/null; then set -x; systemd-sysusers $(SYSUSERSDIR)/bulwark-console.conf; \
	    else set -x; useradd --system --user-group --no-create-home --home-dir $(LOCALSTATEDIR)/lib/bulwark-console \
	      --shell /usr/sbin/nologin --comment "Bulwark management console" bulwark-console; fi; set +x; fi; \
	  else echo "make install: no user bulwark: create it, then chown bulwark:bulwark $(BW_LIB)" \
	    "$(BW_LIB)/db $(BW_LIB)/quarantine $(BW_LOG) (the cache stays root's)"; fi; \
	  if [ -d /run/systemd/system ]; then echo "make install: next: systemctl daemon-reload;" \
	    "bulwark update (or systemctl start bulwark-update.service); systemctl enable --now bulwarkd bulwark-update.timer"; fi; \
	fi

# Removes what install put in place.  Kept: a bulwark.conf that differs from
# the installed default, the databases, the quarantine and the logs (their
# directories go only when empty), and the bulwark user.
uninstall:
	@rm -rf $(PKG_STAGE) && mkdir -p $(PKG_STAGE)
	@packaging/system-conf.sh conf/bulwark.conf $(SYSCONFDIR) $(DATADIR) $(LOCALSTATEDIR) $(RUNSTATEDIR) > $(PKG_STAGE)/bulwark.conf
	@$(PKG_SED) conf/console.conf > $(PKG_STAGE)/console.conf
	@$(PKG_SED) conf/agent.conf > $(PKG_STAGE)/agent.conf
	rm -f $(D)$(BINDIR)/bulwark $(D)$(SBINDIR)/bulwarkd $(D)$(SBINDIR)/bulwark-console \
	  $(D)$(SBINDIR)/bulwark-agent $(D)$(MANDIR)/man8/bulwark-agent.8 $(D)$(SYSCONFDIR)/bulwark/agent.conf.dist \
	  $(D)$(MANDIR)/man8/bulwark-console.8 $(D)$(SYSUSERSDIR)/bulwark-console.conf \
	  $(addprefix $(D)$(DATADIR)/bulwark/console-ui/,$(CONSOLE_UI)) $(D)$(SYSCONFDIR)/bulwark/console.conf.dist \
	  $(D)$(MANDIR)/man1/bulwark.1 $(D)$(MANDIR)/man5/bulwark.conf.5 $(D)$(MANDIR)/man8/bulwarkd.8 \
	  $(addprefix $(D)$(SYSTEMDUNITDIR)/,$(PKG_UNITS)) $(D)$(SYSUSERSDIR)/bulwark.conf \
	  $(D)$(TMPFILESDIR)/bulwark.conf $(D)$(INITDIR)/bulwarkd $(D)$(LOGROTATEDIR)/bulwark \
	  $(addprefix $(D)$(DATADIR)/bulwark/templates/,$(PKG_TEMPLATES)) \
	  $(addprefix $(D)$(DATADIR)/bulwark/db-test/,$(PKG_TESTDB)) $(D)$(SYSCONFDIR)/bulwark/bulwark.conf.dist
	@for c in bulwark.conf console.conf agent.conf; do conf=$(D)$(SYSCONFDIR)/bulwark/$$c; \
	if cmp -s $(PKG_STAGE)/$$c "$$conf"; then echo "rm -f $$conf"; rm -f "$$conf"; \
	elif [ -e "$$conf" ]; then echo "make uninstall: kept $$conf (changed since it was installed)"; fi; done
	@# The UI's directories, deepest first, when empty.
	@[ ! -d $(D)$(DATADIR)/bulwark/console-ui ] || find $(D)$(DATADIR)/bulwark/console-ui -depth -type d -empty -delete
	@for d in $(D)$(DATADIR)/bulwark/templates $(D)$(DATADIR)/bulwark/db-test $(D)$(DATADIR)/bulwark \
	  $(D)$(SYSCONFDIR)/bulwark $(D)$(BW_LIB)/db $(D)$(BW_LIB)/cache $(D)$(BW_LIB)/quarantine $(D)$(BW_LIB) \
	  $(D)$(BW_LOG); do [ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || echo "make uninstall: kept $$d (not empty)"; done

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(CONSOLE_OBJ:.o=.d) $(AGENT_OBJ:.o=.d)
