# af: plain Makefile. `make` builds, `make test` installs deps, builds and tests.
# See README.md and docs/.

VERSION  := 0.1.0
BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
SANITIZE ?=
# Test hooks (fault injection a scenario switches on from the environment,
# such as AF_TEST_DROP_HINTS) are compiled in with TEST_HOOKS=1, the
# default of `make`, `make test` and `make unit-check`. TEST_HOOKS=0 is a
# release build, into build-release/ unless BUILD says otherwise; `make
# install` installs one, and `make check-release` proves it has no hook.
TEST_HOOKS ?= 1

PKGS     := raft libuv lmdb libprotobuf-c yaml-0.1 jansson libxxhash libsodium libmicrohttpd
# What each binary may link (docs/architecture.md, "The parts"): routerd
# and af get neither libraft, libuv nor LMDB; af gets no HTTP server.
PKGS_controld := $(PKGS)
PKGS_routerd  := libprotobuf-c yaml-0.1 jansson libxxhash libsodium libmicrohttpd libcurl
PKGS_af       := libprotobuf-c yaml-0.1 jansson libxxhash libsodium
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion \
            -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wcast-align \
            -Wvla -Wundef -Wwrite-strings -Wimplicit-fallthrough -Werror
ifeq ($(SANITIZE),1)
OPT      := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
SANLD    := -fsanitize=address,undefined
BUILD    := build-san
else
OPT      := -O2 -g -D_FORTIFY_SOURCE=2
SANLD    :=
endif
ifeq ($(TEST_HOOKS),1)
HOOKS    := -DAF_TEST_HOOKS
else
HOOKS    :=
BUILD    := build-release
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) libcurl 2>/dev/null) -lnng -lpthread -lm
pkg_libs   = $(shell pkg-config --libs $(PKGS_$(1)) 2>/dev/null) -lnng -lpthread -lm
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -fstack-protector-strong -fPIE \
             -DAF_VERSION='"$(VERSION)"' $(HOOKS) -I. -I$(BUILD)/gen
CFLAGS_ALL = $(BASEFLAGS) $(WARN) $(PKG_CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now $(SANLD)

# Sources. Each binary's entry point is <dir>/main.c; everything else in a
# folder goes into that folder's archive, build/lib<folder>.a (generated
# protobuf-c code and proto/*.c into libproto.a). Each binary links only
# the archives its part may use, so a call across a boundary fails the
# link; tests/check_deps.sh does the same for #include lines.
PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
LIB_DIRS  := common net store policy render controld routerd cli
dir_objs   = $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out %/main.c,$(wildcard $(1)/*.c)))
GEN_OBJS  := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
archives   = $(foreach a,$(1),$(BUILD)/lib$(a).a)
# Link order: a part before the parts it uses.
LINK_controld := controld render store policy net proto common
LINK_routerd  := routerd policy net proto common
LINK_af       := cli render policy net proto common
# Tests, tools and benchmarks may use anything.
LINK_ALL      := cli routerd controld render store policy net proto common
ALL_ARCHIVES   = $(call archives,$(LINK_ALL))
BINS      := $(BUILD)/bin/controld $(BUILD)/bin/routerd $(BUILD)/bin/af
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TLIB_SRCS := $(wildcard tests/lib/*.c)
TLIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TLIB_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS     := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
BENCH_SRCS:= $(wildcard bench/*.c)
# bench/lib/: what the benches share, linked into each (bench/lib/*.h).
BLIB      := $(BUILD)/libbench.a
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all deps check-deps check-size check-release test unit-test unit-check cluster-test bench fuzz faults format \
        format-check clean install install-data run
.SECONDARY: $(GEN_C) $(GEN_H)

all: $(BINS)

# --- generated protobuf-c code ------------------------------------------
$(BUILD)/gen/proto/%.pb-c.c $(BUILD)/gen/proto/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(BASEFLAGS) $(PKG_CFLAGS) -w -c $< -o $@

# --- project objects ----------------------------------------------------
$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

define ARCHIVE_RULE
$(BUILD)/lib$(1).a: $(call dir_objs,$(1))
	@rm -f $$@
	@ar rcs $$@ $$^
endef
$(foreach d,$(LIB_DIRS),$(eval $(call ARCHIVE_RULE,$(d))))

# The console's files, compiled into controld (controld/http_ui.c).
UI_ASSETS := $(sort $(wildcard controld/ui/*.html controld/ui/*.js controld/ui/*.css))
$(BUILD)/gen/controld/ui_assets.c: $(UI_ASSETS) controld/ui/embed.sh
	@mkdir -p $(dir $@)
	@echo "  EMBED   $@"
	@sh controld/ui/embed.sh $@ $(UI_ASSETS)
$(BUILD)/libcontrold.a: $(BUILD)/obj/gen/controld/ui_assets.o

$(BUILD)/libproto.a: $(GEN_OBJS) $(call dir_objs,proto)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/bin/controld: $(BUILD)/obj/controld/main.o $(call archives,$(LINK_controld))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(call pkg_libs,controld)

$(BUILD)/bin/routerd: $(BUILD)/obj/routerd/main.o $(call archives,$(LINK_routerd))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(call pkg_libs,routerd)

$(BUILD)/bin/af: $(BUILD)/obj/cli/main.o $(call archives,$(LINK_af))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(call pkg_libs,af)

# --- tests --------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TLIB_OBJS) $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) -Wl,--start-group $(ALL_ARCHIVES) -Wl,--end-group $(PKG_LIBS) \
		$(shell pkg-config --libs criterion)

# Test tools: small programs the cluster scenarios and the fault suite run.
$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(TLIB_OBJS) $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) -Wl,--start-group $(ALL_ARCHIVES) -Wl,--end-group $(PKG_LIBS)

$(BLIB): $(call dir_objs,bench/lib)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BLIB) $(TLIB_OBJS) $(ALL_ARCHIVES)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) -Wl,--start-group $(BLIB) $(ALL_ARCHIVES) -Wl,--end-group $(PKG_LIBS) -lm

deps:
	@sh tests/deps.sh

# Includes across parts only where tests/check_deps.sh's table allows.
check-deps:
	@sh tests/check_deps.sh

# Size rules (functions over 80 lines, files over 800): lists offenders.
check-size:
	@sh tests/check_size.sh

# A release build (TEST_HOOKS=0) holds no test hook: tests/check_release.sh
# looks for AF_TEST_ in the binaries' strings.
check-release:
	@$(MAKE) --no-print-directory TEST_HOOKS=0 BUILD=build-release all
	@sh tests/check_release.sh build-release

test: deps check-deps check-size check-release
	@$(MAKE) --no-print-directory all $(TESTS) $(TOOLS) $(BENCHES)
	@cd tests/browser && npm ci --no-audit --no-fund --silent
	@cd sdk/typescript && npm ci --no-audit --no-fund --silent && npm run --silent build
	@BUILD=$(BUILD) sh tests/run.sh $(TESTS)

unit-test: all $(TESTS) $(TOOLS)
	@BUILD=$(BUILD) sh tests/run.sh $(TESTS)

# The binaries and the unit tests only (CI's second compiler:
# `make CC=clang BUILD=build-clang unit-check`).
unit-check: check-deps check-size all $(TESTS)
	@BUILD=$(BUILD) UNIT_ONLY=1 sh tests/run.sh $(TESTS)

# The long fault run (the short form is part of `make test`).
faults: deps
	@$(MAKE) --no-print-directory all $(TOOLS)
	@BUILD=$(BUILD) sh tests/faults/run.sh long

bench: all $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

fuzz: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) sh tests/fuzz/run.sh

run: deps all
	@sh deploy/local.sh run

FMT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FMT_SRCS)
format-check:
	@clang-format --dry-run --Werror $(FMT_SRCS)

# Installs release binaries (no test hooks), built into build-release/.
install: check-release install-data
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(patsubst $(BUILD)/%,build-release/%,$(BINS)) $(DESTDIR)$(PREFIX)/bin/

# systemd units (their paths rewritten for PREFIX), the docs, the alert
# rules and the Grafana dashboard. No build needed.
UNITDIR ?= $(PREFIX)/lib/systemd/system
install-data:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/doc/af/img \
		$(DESTDIR)$(PREFIX)/share/af/prometheus $(DESTDIR)$(PREFIX)/share/af/grafana
	for u in deploy/systemd/*.service; do \
		sed 's|/usr/local/|$(PREFIX)/|g' $$u >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/af/
	install -m 644 docs/img/* $(DESTDIR)$(PREFIX)/share/doc/af/img/
	install -m 644 deploy/prometheus/af-rules.yaml $(DESTDIR)$(PREFIX)/share/af/prometheus/
	install -m 644 deploy/grafana/af.json $(DESTDIR)$(PREFIX)/share/af/grafana/

clean:
	rm -rf build build-san build-clang build-release

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
