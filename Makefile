# af: plain Makefile. `make` builds, `make test` installs deps, builds and tests.
# See README.md and docs/.

VERSION  := 0.1.0
BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
SANITIZE ?=

PKGS     := raft libuv lmdb libprotobuf-c yaml-0.1 jansson libxxhash libsodium libmicrohttpd
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

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnng -lpthread -lm
BASEFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -fstack-protector-strong -fPIE \
             -DAF_VERSION='"$(VERSION)"' -I. -I$(BUILD)/gen
CFLAGS_ALL = $(BASEFLAGS) $(WARN) $(PKG_CFLAGS)
LDFLAGS_ALL = -pie -Wl,-z,relro,-z,now $(SANLD)

# Sources. Each daemon's entry point is <dir>/main.c; everything else in the
# folder goes into libaf.a so tests and benchmarks can link it.
PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/proto/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
LIB_DIRS  := common store policy controld routerd cli
LIB_SRCS  := $(filter-out %/main.c,$(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) \
             $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
BINS      := $(BUILD)/bin/controld $(BUILD)/bin/routerd $(BUILD)/bin/af
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TLIB_SRCS := $(wildcard tests/lib/*.c)
TLIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TLIB_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS     := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRCS))
BENCH_SRCS:= $(wildcard bench/*.c)
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all deps test unit-test cluster-test bench fuzz faults format \
        format-check clean install run
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

$(BUILD)/libaf.a: $(LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/%/main.o $(BUILD)/libaf.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libaf.a $(PKG_LIBS)

$(BUILD)/bin/af: $(BUILD)/obj/cli/main.o $(BUILD)/libaf.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libaf.a $(PKG_LIBS)

# --- tests --------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TLIB_OBJS) $(BUILD)/libaf.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(BUILD)/libaf.a $(PKG_LIBS) \
		$(shell pkg-config --libs criterion)

# Test tools: small programs the cluster scenarios and the fault suite run.
$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(TLIB_OBJS) $(BUILD)/libaf.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(BUILD)/libaf.a $(PKG_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(TLIB_OBJS) $(BUILD)/libaf.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $< $(TLIB_OBJS) $(BUILD)/libaf.a $(PKG_LIBS) -lm

deps:
	@sh tests/deps.sh

test: deps
	@$(MAKE) --no-print-directory all $(TESTS) $(TOOLS) $(BENCHES)
	@BUILD=$(BUILD) sh tests/run.sh $(TESTS)

unit-test: all $(TESTS) $(TOOLS)
	@BUILD=$(BUILD) sh tests/run.sh $(TESTS)

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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-san

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
