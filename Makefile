# goshim: build libgoshim.so, run its tests, demos and benchmarks.
# Targets: all (the library), test, demo, bench, soak, unit, compat, cross, install, clean.
ARCH    ?= $(shell uname -m)
CC      ?= cc
BUILD   := build
CFLAGS  ?= -O2 -g
# The runtime is hidden except the interposed libc/pthread symbols (GS_EXPORT).
LIB_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fPIC \
	-fvisibility=hidden -fno-omit-frame-pointer -fno-stack-protector \
	-D_GNU_SOURCE -Isched -Ishim -Iarch/$(ARCH)
LIB_LDFLAGS := -shared -Wl,-z,now -Wl,--no-undefined
LIB_LDLIBS  := -lunwind -ldl -lpthread

SCHED_SRC := $(wildcard sched/*.c)
SHIM_SRC  := $(wildcard shim/*.c)
ARCH_SRC  := $(wildcard arch/$(ARCH)/*.S arch/$(ARCH)/*.c)
LIB_OBJ   := $(patsubst %,$(BUILD)/obj/%.o,$(SCHED_SRC) $(SHIM_SRC) $(ARCH_SRC))
HDRS      := $(wildcard sched/*.h shim/*.h arch/$(ARCH)/*.h)

LIB := $(BUILD)/libgoshim.so

all: $(LIB) $(BUILD)/goshim

$(BUILD)/obj/%.c.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

# The wrapper command: goshim [-p N] prog args...
$(BUILD)/goshim: scripts/goshim.in
	@mkdir -p $(BUILD)
	sed 's|@LIBDIR@|$(abspath $(BUILD))|' $< > $@ && chmod +x $@

# Unit tests: Check suites linked against the runtime objects (not the .so).
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
SCHED_OBJ := $(patsubst %,$(BUILD)/obj/%.o,$(SCHED_SRC) $(ARCH_SRC) shim/real.c)

$(BUILD)/unit/%: tests/unit/%.c $(SCHED_OBJ) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -D_GNU_SOURCE -Isched -Ishim -Iarch/$(ARCH) $(shell pkg-config --cflags check 2>/dev/null) \
		-o $@ $< $(SCHED_OBJ) $(shell pkg-config --libs check 2>/dev/null || echo -lcheck) -lunwind -ldl -lpthread

deps:
	@scripts/deps.sh test

unit: deps $(UNIT_BIN)

test: deps all $(UNIT_BIN)
	@scripts/test.sh

compat: all
	@scripts/run-compat.sh

demo: all
	@scripts/deps.sh demo
	@scripts/demo.sh

# The full set: switch and spawn, the echo before/after up to 19,000 connections,
# HTTP (wrk) and chat under load, the soak; everything under results/bench/.
bench: all
	@scripts/deps.sh bench
	@scripts/bench.sh
	@FULL=1 DEMO_OUT=results/bench scripts/demo.sh
	@scripts/bench_http.sh
	@scripts/bench_chat.sh
	@scripts/soak.sh

# The soak alone (a million short connections, then 10,000 idle; scripts/soak.sh -s
# is a 20,000-connection check).
soak: all
	@scripts/soak.sh

PREFIX ?= /usr/local
install: all
	install -D -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/goshim/libgoshim.so
	sed 's|@LIBDIR@|$(PREFIX)/lib/goshim|' scripts/goshim.in > $(DESTDIR)$(PREFIX)/bin/goshim
	chmod 755 $(DESTDIR)$(PREFIX)/bin/goshim

clean:
	rm -rf $(BUILD)

# The other architectures' arch/ must at least cross-compile (DESIGN.md §3): the
# switch and a compile-only use of every arch.h entry point, with clang --target.
CROSS_ARCHS := aarch64
cross:
	@command -v clang > /dev/null || { echo "make cross: needs clang (apt-get install clang)"; exit 1; }
	@mkdir -p $(BUILD)/cross
	@for a in $(CROSS_ARCHS); do \
		clang --target=$$a-linux-gnu -c arch/$$a/switch.S -o $(BUILD)/cross/$$a-switch.o && \
		clang --target=$$a-linux-gnu -ffreestanding -std=gnu11 -Wall -Wextra -Werror -O2 \
			-Iarch/$$a -c tests/arch/ctx_check.c -o $(BUILD)/cross/$$a-ctx_check.o && \
		echo "cross: arch/$$a builds" || exit 1; \
	done

.PHONY: all deps unit test compat demo bench soak cross install clean
