# goshim: build libgoshim.so, run its tests, demos and benchmarks.
# Targets: all (the library and the command), test, demo, bench, soak, unit, compat, check-asan,
# cross, check-aarch64, lockrank, install, uninstall, deb, clean. Every goal that compiles runs
# scripts/deps.sh first.
HOST_ARCH := $(shell uname -m)
ARCH    ?= $(HOST_ARCH)
CC      ?= cc
BUILD   := build
# Another architecture (make ARCH=aarch64): its cross compiler unless CC is given,
# and a build directory of its own (build/aarch64), so the host's build stays.
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_BUILD := 1
BUILD := build/$(ARCH)
ifeq ($(origin CC),default)
CC := $(ARCH)-linux-gnu-gcc
endif
endif
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

# Dependencies first: every rule that compiles has `| deps` (order-only), so on a
# fresh machine the Debian packages are installed (as root) or named (otherwise)
# before the first compiler call, whatever the goal and with -j too. The set
# follows the goals: build (compiler, libunwind) < test < demo < bench.
# NODEPS=1 skips the check (packaging, where Build-Depends already did it).
DEPS_SH  ?= scripts/deps.sh
DEPS_SET := $(or $(if $(CROSS_BUILD),$(ARCH)),$(if $(filter check-aarch64 cross,$(MAKECMDGOALS)),aarch64),$(if $(filter bench soak,$(MAKECMDGOALS)),bench),$(if $(filter demo,$(MAKECMDGOALS)),demo),$(if $(filter test unit compat check-asan,$(MAKECMDGOALS)),test),build)
deps:
ifneq ($(NODEPS),1)
	@$(DEPS_SH) $(DEPS_SET)
endif

$(BUILD)/obj/%.c.o: %.c $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.S.o: %.S $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(CC) $(LIB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

# The command (cmd/goshim.c): goshim [-p N] [-s S] prog args..., goshim dump PID.
# It finds the library at LIB_FROM_BIN relative to its own directory: beside it in
# build/, $(LIBDIR) seen from $(BINDIR) when installed.
VERSION := $(shell cat VERSION)
CMD_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DGOSHIM_VERSION='"$(VERSION)"'
$(BUILD)/goshim: cmd/goshim.c VERSION | deps
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) $(CMD_CFLAGS) $(LDFLAGS) -DLIB_FROM_BIN='"."' -o $@ $<

$(BUILD)/install/goshim: cmd/goshim.c VERSION | deps
	@mkdir -p $(BUILD)/install
	$(CC) $(CPPFLAGS) $(CMD_CFLAGS) $(LDFLAGS) -DLIB_FROM_BIN='"$(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))"' -o $@ $<

# Unit tests: Check suites linked against the runtime objects (not the .so).
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRC))
# Check's flags: pkg-config's on the host; for another architecture Debian's
# multiarch check:$(ARCH) (scripts/deps.sh), whose .pc the host's pkg-config does not see.
ifdef CROSS_BUILD
CHECK_CFLAGS :=
CHECK_LIBS := -lcheck -lsubunit -lrt -lm
else
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
endif
SCHED_OBJ := $(patsubst %,$(BUILD)/obj/%.o,$(SCHED_SRC) $(ARCH_SRC))

$(BUILD)/unit/%: tests/unit/%.c $(SCHED_OBJ) $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -D_GNU_SOURCE -Isched -Ishim -Iarch/$(ARCH) $(CHECK_CFLAGS) \
		-o $@ $< $(SCHED_OBJ) $(CHECK_LIBS) -lunwind -ldl -lpthread

unit: $(UNIT_BIN)

# Sanitizer build (make check-asan, scripts/check-asan.sh), in build/asan/: the runtime
# (sched/, arch/) and the unit tests linked with it under
# -fsanitize=address,undefined; the preloaded library under -fsanitize=undefined only
# (ASan's interceptors and its per-thread state around green threads that switch stacks
# crash the preloaded programs: the switch would need ASan's fiber annotations). Any
# report is fatal (-fno-sanitize-recover=all).
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all
UBSAN_FLAGS := -fsanitize=undefined -fno-sanitize-recover=all
ASAN_BUILD := $(BUILD)/asan
UBSAN_LIB_OBJ := $(patsubst %,$(ASAN_BUILD)/ubsan-obj/%.o,$(SCHED_SRC) $(SHIM_SRC) $(ARCH_SRC))
ASAN_SCHED_OBJ := $(patsubst %,$(ASAN_BUILD)/obj/%.o,$(SCHED_SRC) $(ARCH_SRC))
ASAN_UNIT_BIN := $(patsubst tests/unit/%.c,$(ASAN_BUILD)/unit/%,$(UNIT_SRC))

$(ASAN_BUILD)/obj/%.c.o: %.c $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(ASAN_BUILD)/ubsan-obj/%.c.o: %.c $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(UBSAN_FLAGS) -c $< -o $@

$(ASAN_BUILD)/obj/%.S.o: %.S $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(ASAN_BUILD)/ubsan-obj/%.S.o: %.S $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(ASAN_BUILD)/libgoshim.so: $(UBSAN_LIB_OBJ)
	$(CC) $(UBSAN_FLAGS) $(LIB_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LIB_LDLIBS)

$(ASAN_BUILD)/unit/%: tests/unit/%.c $(ASAN_SCHED_OBJ) $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN_FLAGS) -D_GNU_SOURCE -Isched -Ishim -Iarch/$(ARCH) $(shell pkg-config --cflags check 2>/dev/null) \
		-o $@ $< $(ASAN_SCHED_OBJ) $(shell pkg-config --libs check 2>/dev/null || echo -lcheck) -lunwind -ldl -lpthread

# Kept: they are only named as a pattern rule's prerequisites (else make deletes them).
.SECONDARY: $(ASAN_SCHED_OBJ) $(UBSAN_LIB_OBJ)

check-asan: $(ASAN_BUILD)/libgoshim.so $(ASAN_UNIT_BIN)
	@scripts/check-asan.sh

test: all $(UNIT_BIN)
	@scripts/test.sh

compat: all
	@scripts/run-compat.sh

demo: all
	@scripts/demo.sh

# The full set: switch and spawn, the echo before/after up to 19,000 connections,
# HTTP (wrk) and chat under load, the soak; everything under results/bench/.
bench: all
	@scripts/bench.sh
	@FULL=1 DEMO_OUT=results/bench scripts/demo.sh
	@scripts/bench_http.sh
	@scripts/bench_chat.sh
	@scripts/soak.sh

# The soak alone (a million short connections, then 10,000 idle; scripts/soak.sh -s
# is a 20,000-connection check).
soak: all
	@scripts/soak.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]; LIBDIR, BINDIR, MANDIR may be set
# apart (debian/rules puts the library in the multiarch directory).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib/goshim
MANDIR ?= $(PREFIX)/share/man
INSTALLED := $(DESTDIR)$(LIBDIR)/libgoshim.so $(DESTDIR)$(BINDIR)/goshim $(DESTDIR)$(MANDIR)/man1/goshim.1
install: $(LIB) $(BUILD)/install/goshim
	install -D -m 644 $(LIB) $(DESTDIR)$(LIBDIR)/libgoshim.so
	install -D -m 755 $(BUILD)/install/goshim $(DESTDIR)$(BINDIR)/goshim
	install -D -m 644 man/goshim.1 $(DESTDIR)$(MANDIR)/man1/goshim.1

# Removes what install put there and goshim's own library directory; with DESTDIR, also
# the directories below DESTDIR left empty.
uninstall:
	rm -f $(INSTALLED)
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null
	@if [ -n "$(DESTDIR)" ]; then for d in $(dir $(INSTALLED)); do \
		d=$${d%/}; while [ "$$d" != "$(patsubst %/,%,$(DESTDIR))" ]; do \
			[ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || break; d=$$(dirname "$$d"); done; \
	done; fi

# The Debian package (debian/): built from a copy of the tree in $(BUILD)/deb/ (where
# dpkg-buildpackage leaves the .deb beside it), then lintian on it.
DEB := $(BUILD)/deb/goshim_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb
deb:
	@scripts/deps.sh deb
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/goshim-$(VERSION)
	tar -cf - --exclude=./$(BUILD) --exclude=./results --exclude=./.git . | tar -C $(BUILD)/deb/goshim-$(VERSION) -xf -
	cd $(BUILD)/deb/goshim-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian $(if $(filter 0,$(shell id -u)),--allow-root) -I --pedantic $(DEB)

clean:
	rm -rf $(BUILD)

# The other architectures must build (DESIGN.md §3): the whole library, every sched/
# and shim/ file, with each one's cross compiler (scripts/deps.sh aarch64 installs it),
# and a compile-only use of every arch.h entry point with -Werror.
CROSS_ARCHS := aarch64
cross:
	@for a in $(CROSS_ARCHS); do \
		$(MAKE) --no-print-directory ARCH=$$a BUILD=$(BUILD)/$$a all && \
		$$a-linux-gnu-gcc -ffreestanding -std=gnu11 -Wall -Wextra -Werror -O2 \
			-Iarch/$$a -c tests/arch/ctx_check.c -o $(BUILD)/$$a/ctx_check.o && \
		echo "cross: $$a: the $(words $(SCHED_SRC) $(SHIM_SRC)) files of sched/ and shim/ and arch/$$a built into $(BUILD)/$$a/libgoshim.so" || exit 1; \
	done

# The aarch64 build run under qemu-user (not part of `make test`: it takes long):
# the unit tests and the compat suite, natively emulated and preloaded, at
# GOSHIM_PROCS 1 and 4 (scripts/check-arch.sh). The host's build too: the host programs a
# test starts under qemu-user (/bin/sh) get it.
check-aarch64:
	@$(MAKE) --no-print-directory ARCH=aarch64 all unit
	@$(MAKE) --no-print-directory ARCH=$(HOST_ARCH) all
	@scripts/check-arch.sh aarch64

# The runtime with its lock ranks checked (gs.h: GS_LOCK_RANKS; an acquisition
# out of rank aborts with one line naming both locks), and the compat suites
# run with it. Not part of `make test`: a debug build.
lockrank: all
	$(MAKE) BUILD=$(BUILD)/lockrank CFLAGS="$(CFLAGS) -DGS_LOCKRANK" $(BUILD)/lockrank/libgoshim.so
	GOSHIM_LIB=$(CURDIR)/$(BUILD)/lockrank/libgoshim.so scripts/run-compat.sh -q -d tests/compat
	GOSHIM_LIB=$(CURDIR)/$(BUILD)/lockrank/libgoshim.so scripts/run-compat.sh -q -d tests/compat-io

.PHONY: all deps unit check-asan test compat demo bench soak cross check-aarch64 lockrank install uninstall deb clean
