# vocal: a carrier-grade SIP platform. One non-recursive Makefile builds the
# shared library common/ (libvocal.a), every program into bin/, and the tests.
#
#   make              build everything (bin/)
#   make run / stop   start / stop the all-in-one platform on loopback
#   make check        every test: unit (plain and ASan+UBSan), conformance,
#                     command-line, integration with real services, fuzz replay
#   make bench        benchmarks (time and instructions per operation, the Kamailio race)
#   make bench-race   only the race against the Kamailio peer (issue 4)
#   make bench-features  only the feature hop's cost per call (issue 6)
#   make fuzz         run every fuzzer longer (FUZZ_SECONDS each)
#   make install      PREFIX=/usr/local DESTDIR=
#   make clean

CC       ?= cc
CLANG    ?= clang
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O2 -g
WERROR   ?= -Werror
SAN      ?=
FUZZ_SECONDS ?= 300

WARN      = -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-unused-parameter
CFLAGS   ?= $(OPT)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(SAN)
CPPFLAGS += -D_GNU_SOURCE -I. -Icommon
# OpenSSL: TLS and digest hashes; c-ares: asynchronous DNS for RFC 3263
# server location; protobuf-c: messages between daemons.
# libmicrohttpd: provd's HTTP server; jansson: JSON of the provisioning API
# (a well-kept parser for untrusted input rather than one of our own);
# libxml2: parsing and XSD validation of untrusted XML (CPL scripts,
# feature/cpl.c). libsodium: provd's web passwords (Argon2id in the
# crypto_pwhash_str format, an audited implementation rather than one of
# our own), session ids from its CSPRNG (randombytes_buf) and constant-time
# compares of CSRF tokens (sodium_memcmp).
LDLIBS   = -lssl -lcrypto -lcares -lprotobuf-c -lpq -lmicrohttpd -ljansson -lxml2 -lsodium
CPPFLAGS += $(shell pkg-config --cflags libxml-2.0)
LDLIBS_TEST = -lcmocka

COMMON_SRC := $(wildcard common/*.c common/sip/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBVOCAL   := $(BUILD)/libvocal.a

# Messages between daemons: protoc-c turns common/proto/NAME.proto into
# $(BUILD)/proto/NAME.pb-c.{c,h}, per BUILD, so that the asan and clang
# sub-builds (and the fuzzers, which use build/) each find their own.
PROTO_SRC  := $(wildcard common/proto/*.proto)
PROTO_C    := $(PROTO_SRC:common/proto/%.proto=$(BUILD)/proto/%.pb-c.c)
PROTO_H    := $(PROTO_C:.c=.h)
PROTO_OBJ  := $(PROTO_C:.c=.o)
CPPFLAGS   += -I$(BUILD)/proto

# Each daemon is a thin DIR/main.c over a library of modules (the rest of
# DIR/*.c, build/libDIR.a), which its unit tests link too. The binary is
# bin/DIRd, except provisioning/, whose daemon is bin/provd.
DAEMON_DIRS := redirect marshal provisioning feature
DAEMON_LIBS := $(DAEMON_DIRS:%=$(BUILD)/lib%.a)
daemon_objs = $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(1)/main.c,$(wildcard $(1)/*.c)))
DAEMON_OBJ := $(foreach d,$(DAEMON_DIRS),$(call daemon_objs,$(d)))

# Directories with a main.c have a daemon (feature/ is a library so far).
DAEMON_MAINS := $(foreach d,$(DAEMON_DIRS),$(if $(wildcard $(d)/main.c),$(d)))
DAEMON_BIN = $(if $(filter provisioning,$(1)),bin/provd,bin/$(1)d)
PROGRAMS := bin/sipcheck bin/vocal-migrate $(foreach d,$(DAEMON_MAINS),$(call DAEMON_BIN,$(d)))

UNIT_SRC   := $(wildcard tests/unit/test_*.c tests/conformance/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/%.c=$(BUILD)/tests/%)

FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# Benchmarks with the run.sh contract (ns/op and callgrind instructions/op)
BENCH_BIN  := $(BUILD)/tests/bench/bench_parse $(BUILD)/tests/bench/bench_txn $(BUILD)/tests/bench/bench_cpl

.PHONY: run stop all check unit unit-asan conformance cli integration integration-asan fuzz-check fuzz \
        bench bench-race bench-features install clean deps clang-build

all: $(PROGRAMS)

deps:
	@bash deploy/install-deps.sh

# README command one: build and start the all-in-one platform on loopback.
run:
	@bash deploy/run.sh

stop:
	@bash deploy/stop.sh

# Order-only on the generated headers: anything may include them, and -MMD
# only knows that after the first build.
$(BUILD)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBVOCAL): $(COMMON_OBJ) $(PROTO_OBJ)
	@rm -f $@
	ar rcs $@ $^

# One protoc-c run writes both files (a grouped pattern rule).
$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: common/proto/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/proto -Icommon/proto $<

$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

.SECONDARY: $(PROTO_C) $(PROTO_H)

bin/%: $(BUILD)/tools/%/main.o $(LIBVOCAL)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/libredirect.a: $(call daemon_objs,redirect)
$(BUILD)/libmarshal.a: $(call daemon_objs,marshal)
$(BUILD)/libprovisioning.a: $(call daemon_objs,provisioning)
# openapi.c builds the document in (.incbin), which -MMD does not see.
$(BUILD)/provisioning/openapi.o: provisioning/openapi.json
$(BUILD)/libfeature.a: $(call daemon_objs,feature)
# The schema is built into the object (.incbin), so the object depends on it.
$(BUILD)/feature/cpl_xsd.o: feature/cpl.xsd
$(DAEMON_LIBS):
	@rm -f $@
	ar rcs $@ $^

bin/%d: $(BUILD)/%/main.o $(BUILD)/lib%.a $(LIBVOCAL)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# provd validates feature settings and shows generated scripts with feature/'s
# library (settings.c, cpl_gen.c, cpl.c).
bin/provd: $(BUILD)/provisioning/main.o $(BUILD)/libprovisioning.a $(BUILD)/libfeature.a $(LIBVOCAL)
	@mkdir -p bin
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bin/provd: $(BUILD)/provisioning/main.o $(BUILD)/libprovisioning.a $(BUILD)/libfeature.a $(LIBVOCAL)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The daemons of a sub-build (build/asan/bin/marshald...), for the tests.
$(BUILD)/bin/%d: $(BUILD)/%/main.o $(BUILD)/lib%.a $(LIBVOCAL)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(DAEMON_LIBS) $(LIBVOCAL) $(wildcard tests/unit/*.h tests/bench/*.h) | $(PROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I. -Itests $(ALL_CFLAGS) -o $@ $< $(DAEMON_LIBS) $(LIBVOCAL) $(LDFLAGS) $(LDLIBS) $(LDLIBS_TEST)

# ---- tests ---------------------------------------------------------------
# Every suite prints TAP-like lines; tests/run-suite.sh totals them into one
# "N passed, N failed" line and exits non-zero on any failure.

check: deps
	@bash tests/check.sh

unit: $(UNIT_BIN)
	@bash tests/run-suite.sh unit $(UNIT_BIN)

# The same unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
unit-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_SAN)" unit

cli: all
	@bash tests/run-suite.sh cli tests/cli/*_test.sh tests/conformance/*_test.sh

# Programs the integration tests drive: a proxy on the proxy core, and a
# sender of raw messages.
TEST_PROGRAMS := $(BUILD)/tests/proxy/testproxy $(BUILD)/tests/proxy/sipsend \
                 $(BUILD)/tests/integration/resolve_driver $(BUILD)/tests/integration/store_driver \
                 $(BUILD)/tests/integration/hop_driver

integration: all $(TEST_PROGRAMS)
	@bash tests/run-suite.sh integration tests/integration/*_test.sh

# The proxy tests again against a testproxy built with ASan+UBSan (and
# LeakSanitizer at its exit), and the platform's end-to-end tests against
# daemons built so: whatever bytes arrive on their sockets, no memory error
# and no leak (a daemon that leaks exits non-zero, which fails the test).
ASAN_SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
integration-asan: all $(TEST_PROGRAMS)
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_SAN)" \
	  build/asan/tests/proxy/testproxy build/asan/bin/marshald build/asan/bin/redirectd \
	  build/asan/bin/featured build/asan/bin/provd
	@TESTPROXY=build/asan/tests/proxy/testproxy PLATFORM_BIN=$(CURDIR)/build/asan/bin \
	  PROVD=$(CURDIR)/build/asan/bin/provd \
	  bash tests/run-suite.sh integration-asan tests/integration/provd_api_test.sh tests/integration/provd_auth_test.sh \
	  tests/integration/provd_features_test.sh tests/integration/provd_import_test.sh tests/integration/provd_tls_test.sh \
	  tests/integration/torture_wire_test.sh tests/integration/proxy_sipp_test.sh \
	  tests/integration/proxy_tls_test.sh tests/integration/web_gui_test.sh \
	  $(wildcard tests/integration/platform_*_test.sh)

clang-build:
	@$(MAKE) --no-print-directory CC=$(CLANG) BUILD=build/clang build/clang/libvocal.a \
	  $(DAEMON_DIRS:%=build/clang/lib%.a) $(DAEMON_MAINS:%=build/clang/%/main.o) \
	  $(patsubst bin/%,build/clang/tools/%/main.o,$(filter-out %d,$(PROGRAMS)))

# ---- fuzzing (clang libFuzzer) -------------------------------------------
FUZZ_FLAGS = -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CPPFLAGS)

# The daemons' modules too (not their main.c): the registrar has a target.
FUZZ_LIB_SRC = $(COMMON_SRC) $(foreach d,$(DAEMON_DIRS),$(filter-out $(d)/main.c,$(wildcard $(d)/*.c)))
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRC) $(PROTO_C) $(wildcard common/*.h common/sip/*.h $(DAEMON_DIRS:%=%/*.h))
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_SRC) $(PROTO_C) $(LDLIBS)

fuzz-check: $(FUZZ_BIN)
	@bash tests/fuzz/run.sh check $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh long $(FUZZ_BIN)

# ---- benchmarks ----------------------------------------------------------
$(BUILD)/tests/bench/%: tests/bench/%.c $(DAEMON_LIBS) $(LIBVOCAL)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I. -Itests $(ALL_CFLAGS) -o $@ $< $(DAEMON_LIBS) $(LIBVOCAL) $(LDFLAGS) $(LDLIBS)

# Parser and transactions (time and instructions per operation), digest
# verification (time per operation; its setup grows with N, so no
# instruction count), and calls through the proxy core under SIPp load (CPU
# per call from /proc).
bench: deps $(BENCH_BIN) $(BUILD)/tests/bench/bench_digest $(BUILD)/tests/bench/bench_featured_mem \
       $(BUILD)/tests/proxy/testproxy
	@bash tests/bench/run.sh $(BENCH_BIN)
	@echo "== digest authentication (sip/digest.h)"
	@$(BUILD)/tests/bench/bench_digest
	@echo "== featured: memory per subscriber, 1,000,000 subscribers' features (issue 6: < 1 kB)"
	@$(BUILD)/tests/bench/bench_featured_mem
	@echo "== calls through the proxy core (testproxy + SIPp on loopback)"
	@bash tests/bench/proxy_load.sh
	@echo "== provd: subscriber read/create, list pages with 1,000,000 subscribers (wrk on loopback)"
	@bash tests/bench/provd_bench.sh
	@echo "== issue 6: calls through a feature hop vs the same calls without (the platform + SIPp on loopback, ~4 minutes)"
	@$(MAKE) --no-print-directory bench-features
	@echo "== issue 4 race: Kamailio 5.6 vs marshald + redirectd (SIPp on loopback, ~10 minutes)"
	@$(MAKE) --no-print-directory bench-race

# The side-by-side benchmark against the Kamailio peer (root; needs
# kamailio, kamailio-postgres-modules, sip-tester, sipsak). Table in
# build/bench/race.txt, raw outputs in build/bench/race/.
bench-race: all
	@bash tests/bench/platform_race.sh

# Issue 6: CPU per call through a feature hop (featured running the
# callee's CPL) against the same call without one, and the sustained rate
# of each (needs sip-tester and sipsak). Table in build/bench/features.txt,
# raw outputs in build/bench/features/.
bench-features: all
	@bash tests/bench/feature_hop_bench.sh

# ---- install -------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(PREFIX)/share/vocal/sql
	install -m 644 provisioning/sql/*.sql $(DESTDIR)$(PREFIX)/share/vocal/sql/
	# the web GUI, which provd finds there (web.root empty)
	cd web && find . -type d -exec install -d $(DESTDIR)$(PREFIX)/share/vocal/web/{} \; \
	  && find . -type f -exec install -m 644 {} $(DESTDIR)$(PREFIX)/share/vocal/web/{} \;

clean:
	rm -rf build bin

-include $(COMMON_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(wildcard $(BUILD)/tools/*/*.d $(BUILD)/*/main.d)
