# Mailroom - a mail server for small offices in one box.
#
#   make          build the four programs into build/
#   make run      install missing Debian packages, build, run the appliance on dev ports
#   make test     install missing Debian packages, then every test
#   make asan     the same programs with AddressSanitizer + UBSan in build/asan/
#   make fuzz     run every libFuzzer target for FUZZ_SECONDS each
#
# Sources are every .c in a room's folder: a room is one library or program.

CC       ?= cc
BUILD    ?= build
PKGS     := openssl sqlite3 libmicrohttpd libcares libevent libevent_openssl \
            libevent_pthreads inih libcrypt jansson libidn2
OPT      ?= -O2
CFLAGS   ?=
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla \
            -Wstrict-prototypes -Wmissing-prototypes
HARDEN   := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
ALL_CFLAGS = $(WARN) $(OPT) -g -D_GNU_SOURCE $(HARDEN) $(SAN_CFLAGS) \
             $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(SAN_LDFLAGS) $(LDFLAGS)

# Debian packages the build, `make run` and every test need. Checked with
# dpkg-query first, so this is quick when nothing is missing.
DEB_PACKAGES := build-essential pkg-config clang libclang-rt-14-dev \
    libssl-dev libsqlite3-dev libmicrohttpd-dev libc-ares-dev \
    libevent-dev libinih-dev libcrypt-dev libjansson-dev libidn2-dev \
    openssl sqlite3 python3 python3-pytest python3-aiosmtpd python3-dkim \
    python3-dnslib whois swaks curl fetchmail dnsmasq-base postfix \
    nodejs chromium procps iproute2 dovecot-pop3d wrk \
    debhelper lintian devscripts pebble uacme \
    nmap testssl.sh sqlmap valgrind publicsuffix spamd rspamd

COMMON_SRC  := $(sort $(wildcard common/*.c))
STORE_SRC   := $(sort $(wildcard store/*.c))
SMTPD_SRC   := $(sort $(wildcard smtpd/*.c))
POP3D_SRC   := $(sort $(wildcard pop3d/*.c))
WEBADMIN_SRC:= $(sort $(wildcard webadmin/*.c))
CLI_SRC     := $(sort $(wildcard cli/*.c))
OUTBOUND_SRC:= $(sort $(wildcard outbound/*.c))
RULES_SRC   := $(sort $(wildcard rules/*.c))
TRUST_SRC   := $(sort $(wildcard trust/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# Program main() files are named <room>/main.c; everything else in a room
# may also be linked into unit tests and fuzzers.
nomain = $(filter-out %/main.c,$(1))

LIBCOMMON := $(BUILD)/libcommon.a
LIBSTORE  := $(BUILD)/libstore.a
LIBSMTPD  := $(BUILD)/libsmtpd.a
LIBPOP3D  := $(BUILD)/libpop3d.a
LIBWEB    := $(BUILD)/libwebadmin.a
LIBOUTBOUND := $(BUILD)/liboutbound.a
LIBRULES  := $(BUILD)/librules.a
LIBTRUST  := $(BUILD)/libtrust.a
PROGRAMS  := $(BUILD)/mailroom-smtpd $(BUILD)/mailroom-pop3d \
             $(BUILD)/mailroom-webadmin $(BUILD)/mailroomctl \
             $(BUILD)/mailroom-queued

.PHONY: all deps run test test-unit test-integration test-fuzz asan fuzz \
        test-prove test-asan prove-long check-valgrind \
        clean check-src format bench
all: $(PROGRAMS) $(BUILD)/test-unit

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(call obj,$(COMMON_SRC))
$(LIBSTORE):  $(call obj,$(STORE_SRC))
$(LIBSMTPD):  $(call obj,$(call nomain,$(SMTPD_SRC)))
$(LIBPOP3D):  $(call obj,$(call nomain,$(POP3D_SRC)))
$(LIBWEB):    $(call obj,$(call nomain,$(WEBADMIN_SRC)))
$(LIBOUTBOUND): $(call obj,$(call nomain,$(OUTBOUND_SRC)))
$(LIBRULES):  $(call obj,$(RULES_SRC))
$(LIBTRUST):  $(call obj,$(TRUST_SRC))
$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mailroom-smtpd: $(call obj,smtpd/main.c) $(LIBSMTPD) $(LIBRULES) $(LIBTRUST) $(LIBSTORE) $(LIBCOMMON)
$(BUILD)/mailroom-queued: $(call obj,outbound/main.c) $(LIBOUTBOUND) $(LIBSTORE) $(LIBCOMMON)
$(BUILD)/mailroom-pop3d: $(call obj,pop3d/main.c) $(LIBPOP3D) $(LIBSTORE) $(LIBCOMMON)
$(BUILD)/mailroom-webadmin: $(call obj,webadmin/main.c) $(LIBWEB) $(LIBRULES) $(LIBOUTBOUND) $(LIBTRUST) $(LIBSTORE) $(LIBCOMMON)
$(BUILD)/mailroomctl: $(call obj,$(CLI_SRC)) $(LIBRULES) $(LIBSTORE) $(LIBCOMMON)
$(BUILD)/test-unit: $(call obj,$(UNIT_SRC)) $(LIBSMTPD) $(LIBPOP3D) $(LIBWEB) $(LIBOUTBOUND) $(LIBRULES) $(LIBTRUST) $(LIBSTORE) $(LIBCOMMON)
$(PROGRAMS) $(BUILD)/test-unit:
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- dependencies -----------------------------------------------------------
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "Missing Debian packages. Run: sudo apt-get update && sudo apt-get install -y $$missing"; exit 1; \
	  fi; \
	  echo "Installing Debian packages: $$missing"; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	  case " $$missing " in *" rspamd "*) \
	    systemctl disable --now rspamd >/dev/null 2>&1 || true;; esac; \
	fi

# ---- running ----------------------------------------------------------------
run: deps all
	@bash tests/devrun.sh $(BUILD)

# ---- tests ------------------------------------------------------------------
PYTEST := /usr/bin/python3 -m pytest

test: deps
	$(MAKE) -j$$(nproc) all
	$(MAKE) -j$$(nproc) asan
	$(MAKE) test-unit
	$(MAKE) BUILD=build/asan test-unit
	$(MAKE) test-fuzz
	$(MAKE) check-src
	$(MAKE) test-integration
	$(MAKE) test-prove PROVE_MARK='noasan and not long'
	$(MAKE) test-asan
	$(MAKE) check-valgrind
	$(MAKE) deb-test

test-unit: $(BUILD)/test-unit
	$(BUILD)/test-unit

# ---- Debian package (packaging/README.md) -------------------------------------
deb:
	sh packaging/build-deb.sh $(BUILD)/deb

deb-test: deb
	MAILROOM_DEB_DIR=$(abspath $(BUILD)/deb) $(PYTEST) -q -p no:cacheprovider tests/integration/test_packaging.py

test-integration: all
	MAILROOM_BUILD=$(abspath $(BUILD)) $(PYTEST) -q tests/integration

# The prove campaign (tests/prove/README.md): hostile dialogues, relay, SIGKILLs,
# faults, TLS, web; test-asan runs integration + prove against build/asan.
# make test runs only the noasan part here: everything else runs under ASan in test-asan.
test-prove: all
	MAILROOM_BUILD=$(abspath $(BUILD)) $(PYTEST) -q -c tests/prove/pytest.ini -m '$(or $(PROVE_MARK),not long)' tests/prove

test-asan: asan
	MAILROOM_BUILD=$(abspath build/asan) $(PYTEST) -q tests/integration
	MAILROOM_BUILD=$(abspath build/asan) $(PYTEST) -q -c tests/prove/pytest.ini -m 'not long and not noasan' tests/prove

prove-long: all
	MAILROOM_BUILD=$(abspath $(BUILD)) $(PYTEST) -q -s -c tests/prove/pytest.ini -m long tests/prove
	$(MAKE) fuzz FUZZ_SECONDS=$(or $(PROVE_FUZZ_SECONDS),120)

check-valgrind: all
	sh tests/valgrind/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 HARDEN= \
	  SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  SAN_LDFLAGS="-fsanitize=address,undefined" all

# ---- fuzzing (clang libFuzzer) ----------------------------------------------
FUZZ_SECONDS ?= 60
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))

# The libraries are rebuilt with clang here; warnings only clang raises are
# shown but do not stop fuzzing (gcc's `make all` is where -Werror holds).
fuzz-build:
	$(MAKE) BUILD=build/fuzz-lib CC=clang OPT=-O1 HARDEN= \
	  SAN_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-error" \
	  build/fuzz-lib/libcommon.a build/fuzz-lib/libstore.a build/fuzz-lib/libsmtpd.a \
	  build/fuzz-lib/libpop3d.a build/fuzz-lib/libwebadmin.a \
	  build/fuzz-lib/liboutbound.a build/fuzz-lib/librules.a build/fuzz-lib/libtrust.a
	$(MAKE) $(FUZZ_BIN)

build/fuzz/%: tests/fuzz/%.c build/fuzz-lib/libcommon.a build/fuzz-lib/libstore.a \
  build/fuzz-lib/libsmtpd.a build/fuzz-lib/libpop3d.a build/fuzz-lib/libwebadmin.a \
  build/fuzz-lib/liboutbound.a build/fuzz-lib/librules.a build/fuzz-lib/libtrust.a
	@mkdir -p build/fuzz
	clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	  $(shell pkg-config --cflags $(PKGS)) -o $@ $< \
	  build/fuzz-lib/libsmtpd.a build/fuzz-lib/libpop3d.a build/fuzz-lib/libwebadmin.a \
	  build/fuzz-lib/liboutbound.a build/fuzz-lib/librules.a build/fuzz-lib/libtrust.a \
	  build/fuzz-lib/libstore.a build/fuzz-lib/libcommon.a $(LDLIBS)

# Replay every committed corpus (make test); no new inputs are generated.
test-fuzz: fuzz-build
	@for t in $(FUZZ_BIN); do n=$$(basename $$t); \
	  echo "replay $$n"; \
	  $$t -runs=0 tests/fuzz/corpus/$$n >/dev/null 2>build/fuzz/$$n.log || { cat build/fuzz/$$n.log; exit 1; }; \
	done

fuzz: fuzz-build
	@for t in $(FUZZ_BIN); do n=$$(basename $$t); mkdir -p build/fuzz/new/$$n; \
	  dict=; [ -f tests/fuzz/dict/$$n.dict ] && dict=-dict=tests/fuzz/dict/$$n.dict; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) $$dict build/fuzz/new/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# ---- source checks ------------------------------------------------------------
check-src:
	@sh tests/check-src.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

bench: all
	@echo "see bench/README.md"

clean:
	rm -rf build
