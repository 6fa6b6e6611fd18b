# hvmm — top-level Makefile.  `make help` lists the targets.
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
OPTFLAGS ?= -O1 -g
else
BUILD    ?= build/release
OPTFLAGS ?= -O2 -g
endif

CFLAGS   := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I. -pthread $(OPTFLAGS) \
            $(SANFLAGS) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS  := -pthread $(SANFLAGS) $(EXTRA_LDFLAGS)
# jansson reads and writes the API's JSON (docs/api.md says why); its .a links statically.
LDLIBS   := -ljansson

# The library is every source of the platform, devices, core, the backends and the emulator
# but main().
LIB_SRCS := $(filter-out platform/main.c, $(wildcard platform/*.c devices/*.c devices/*/*.c \
            core/*.c hv-kvm/*.c hv-mshv/*.c emu/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libhvmm.a
HVMM     := $(BUILD)/hvmm

# Unit tests: each tests/unit/test_*.c is a cmocka program; tests/unit/*.c else are helpers.
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNIT_HELP   := $(filter-out $(UNIT_SRCS), $(wildcard tests/unit/*.c))
UNIT_BINS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_HOBJS  := $(UNIT_HELP:%.c=$(BUILD)/%.o)

# Guest programs: freestanding ELF64 images run through the real hvmm code path.
GUEST_CC     ?= gcc
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie \
                -fno-stack-protector -fcf-protection=none -mno-red-zone -mgeneral-regs-only \
                -fno-asynchronous-unwind-tables -Itests/guest -I.
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,tests/guest/lib/guest.ld \
                 -Wl,--build-id=none -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_LIB    := $(BUILD)/guest/lib/start.o $(BUILD)/guest/lib/lib.o $(BUILD)/guest/lib/pvh.o
GUEST_SRCS   := $(wildcard tests/guest/*_guest.c)
GUEST_ELFS   := $(GUEST_SRCS:tests/guest/%_guest.c=$(BUILD)/guest/%.elf)
# Host side of the guest tests.
GT_SRCS      := $(wildcard tests/guest/*_test.c) tests/guest/runner.c tests/guest/harness.c
# The /dev/mshv simulator the runner uses for its mshv-sim column and the PCI test device
# (tests only, not libhvmm).
GT_SRCS      += $(wildcard tests/mshv-sim/*.c) $(wildcard tests/devices/*.c)
GT_OBJS      := $(GT_SRCS:%.c=$(BUILD)/%.o)
GT_RUNNER    := $(BUILD)/tests/guest-runner

.PHONY: all check demo demo-vfio man install deps format help clean e2e e2e-bins bench bench-nested \
        fuzz fuzz-build hvmm-sim
all: $(HVMM) $(GUEST_ELFS)

# V=1 shows the full commands.
Q := $(if $(V),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(HVMM): $(BUILD)/platform/main.o $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests may also drive the /dev/mshv simulator (VFIO on each backend) and plug in the
# PCI test device (tests/devices, tests only, not libhvmm).
SIM_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/mshv-sim/*.c))
TESTDEV_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/devices/*.c))
$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(UNIT_HOBJS) $(SIM_OBJS) $(TESTDEV_OBJS) $(LIB)
	$(Q)$(CC) $(LDFLAGS) $(UNIT_WRAP) -o $@ $^ -lcmocka $(LDLIBS)

# The test build of hvmm (docs/mshv.md): its backends include the
# /dev/mshv simulator, `--hypervisor mshv-sim`.  Its own backend table replaces libhvmm's; the
# release binary never has the simulator.  `make e2e` runs Linux guests through it.
HVMM_SIM := $(BUILD)/hvmm-sim
$(BUILD)/platform/backends-sim.o: platform/backends.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (with the simulator)")
	$(Q)$(CC) $(CFLAGS) -DHVMM_WITH_MSHV_SIM -c $< -o $@

$(HVMM_SIM): $(BUILD)/platform/main.o $(BUILD)/platform/backends-sim.o $(SIM_OBJS) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

hvmm-sim: $(HVMM_SIM)

# The fault-injection walk routes core's own system calls through its wrappers.
$(BUILD)/tests/unit/test_faults: UNIT_WRAP := -Wl,--wrap=eventfd,--wrap=epoll_create1,--wrap=mmap

$(GT_RUNNER): $(GT_OBJS) $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/guest/lib/%.o: tests/guest/lib/%.S
	@mkdir -p $(dir $@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/lib/%.o: tests/guest/lib/%.c tests/guest/guest.h
	@mkdir -p $(dir $@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/guest/%.elf: tests/guest/%_guest.c $(GUEST_LIB) tests/guest/guest.h tests/guest/lib/guest.ld
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB)

# The nested end-to-end rig (tests/e2e/README.md): a static hvmm runs inside an L1 Linux
# booted in QEMU-TCG with real KVM, an IOMMU and an NVMe, on two host kernels; the test
# matrix runs there too, for this build and the SANITIZE=1 build (their guest runner,
# guest programs and test_vfio_pci).  E2E_COMBOS=6.1/6.1 is the quick run.
E2E_HVMM     := $(CURDIR)/build/static/hvmm
E2E_HVMM_SIM := $(CURDIR)/build/static/hvmm-sim
E2E_MATRIX ?= release=$(CURDIR)/build/release san=$(CURDIR)/build/san
e2e-bins: all $(GT_RUNNER) $(BUILD)/tests/unit/test_vfio_pci
e2e: deps
	$(MAKE) BUILD=build/static EXTRA_LDFLAGS=-static build/static/hvmm build/static/hvmm-sim
	$(MAKE) BUILD=build/release SANITIZE=0 e2e-bins
	$(MAKE) BUILD=build/san SANITIZE=1 e2e-bins
	$(MAKE) -C tests/e2e HVMM=$(E2E_HVMM) HVMM_SIM=$(E2E_HVMM_SIM) E2E_MATRIX="$(E2E_MATRIX)"

# Fuzzing (tests/fuzz/README.md): make check replays the corpora; make fuzz builds the
# libFuzzer targets with clang into build/fuzz and runs each for FUZZ_SECONDS.
include tests/fuzz/fuzz.mk
fuzz:
	$(MAKE) deps DEB_PKGS="clang libclang-rt-14-dev"
	$(MAKE) BUILD=build/fuzz CC=clang OPTFLAGS="-O1 -g" EXTRA_CFLAGS="$(FUZZ_FLAGS)" \
		EXTRA_LDFLAGS="$(FUZZ_LDFLAGS)" fuzz-build
	bash tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_NAMES)

check: deps all $(UNIT_BINS) $(GT_RUNNER) $(FUZZ_REPLAYS)
	@bash tests/run.sh $(BUILD)

# Benchmarks against QEMU (bench/run.sh says how): one guest program, three host tools.
BENCH_ELF  := $(BUILD)/bench/bench.elf
BENCH_BINS := $(BUILD)/bench/probe $(BUILD)/bench/irqbench $(BUILD)/bench/pairci

# The intervals' arithmetic (bench/stats.c), in pairci and in its unit test.
$(BUILD)/bench/pairci: $(BUILD)/bench/pairci.o $(BUILD)/bench/stats.o
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lm
$(BUILD)/tests/unit/test_bench_stats: $(BUILD)/bench/stats.o
$(BUILD)/tests/unit/test_bench_stats: LDLIBS += -lm

$(BENCH_ELF): bench/guest/bench.c $(GUEST_LIB) tests/guest/guest.h tests/guest/lib/guest.ld
	@mkdir -p $(dir $@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $< $(GUEST_LIB)

$(BUILD)/bench/probe: $(BUILD)/bench/probe.o
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/bench/irqbench: $(BUILD)/bench/irqbench.o $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Without a usable /dev/kvm, the same script runs inside the nested host, on L1's real KVM
# (tests/e2e/scenarios/bench-kvm.sh), and its table comes back to bench/results.md.  BENCH_L1
# picks L1's kernel there (6.1 or 7.3).
BENCH_L1 ?= 6.1
bench: deps all $(BENCH_ELF) $(BENCH_BINS)
	@if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then \
		bash bench/run.sh $(BUILD); \
	else \
		echo "make bench: no usable /dev/kvm here: measuring inside the nested host (L1's kvm-amd)"; \
		bash bench/run.sh --install $(BUILD) && \
		BENCH_BUILD=$(BUILD) BENCH_VERSION="$$(git describe --always --dirty 2>/dev/null || echo '?')" \
			E2E_COMBOS=$(BENCH_L1)/6.1 SCENARIOS=bench-kvm HVMM= tests/e2e/run && \
		cp build/e2e/files/bench-results.md bench/results.md && \
		sed -n '/^| figure/,/^$$/p' bench/results.md && echo "bench: written to bench/results.md"; \
	fi

# Nested benchmarks (bench/nested/run.sh): L2 boot, NVMe passthrough and VFIO start-up against
# QEMU inside the e2e rig, up to an hour per L1 kernel (BENCH_NESTED_KERNELS).  The tools run
# inside L1 and L2, which have no libc: static; pairci runs on this host.
BN_DIR := build/bench-nested
BN_TOOLS := $(BN_DIR)/randread $(BN_DIR)/l2stamp $(BN_DIR)/kvmhold
$(BN_DIR)/%: bench/nested/%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<
$(BN_DIR)/kvmhold: tests/e2e/tools/kvmhold.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -o $@ $<
bench-nested: deps $(BN_TOOLS) $(BUILD)/bench/pairci
	$(MAKE) BUILD=build/static EXTRA_LDFLAGS=-static build/static/hvmm
	@bash bench/nested/run.sh build/static/hvmm $(BUILD)/bench/pairci $(BN_TOOLS)

# With a usable /dev/kvm the demo guest boots here; without one, the passthrough demo runs
# in the nested host instead.  demo-vfio: a Linux guest drives an NVMe passed through by
# hvmm, inside the nested host (tests/e2e/scenarios/demo.sh), on any machine.
demo: deps $(HVMM) $(BUILD)/guest/demo.elf
	@if [ -c /dev/kvm ] && { : <>/dev/kvm; } 2>/dev/null; then \
		echo "$(HVMM) --memory 64M --cpus 2 --kernel $(BUILD)/guest/demo.elf --serial stdio"; \
		$(HVMM) --memory 64M --cpus 2 --kernel $(BUILD)/guest/demo.elf --serial stdio </dev/null; \
	else \
		if [ -e /dev/kvm ]; then why="/dev/kvm cannot be opened"; else why="this machine has no /dev/kvm"; fi; \
		echo "make demo: $$why, so the demo runs in the nested host instead (make demo-vfio)"; \
		$(MAKE) --no-print-directory demo-vfio; \
	fi

demo-vfio: deps
	@$(MAKE) -s --no-print-directory BUILD=build/static EXTRA_LDFLAGS=-static build/static/hvmm
	@E2E_DEMO=1 E2E_COMBOS=6.1/6.1 SCENARIOS=demo HVMM=$(E2E_HVMM) tests/e2e/run

man: man/hvmm.1

man/hvmm.1: man/hvmm.1.scd
	scdoc < $< > $@

install: $(HVMM) man/hvmm.1
	install -D -m 0755 $(HVMM) $(DESTDIR)$(PREFIX)/bin/hvmm
	install -D -m 0644 man/hvmm.1 $(DESTDIR)$(PREFIX)/share/man/man1/hvmm.1

# Debian packages the build and tests need, installed only when missing: one line saying
# what, apt's and dpkg's chatter in build/deps.log (shown when the install fails).
DEB_PKGS := gcc make libcmocka-dev scdoc linux-libc-dev libjansson-dev acpica-tools
deps:
	@missing=""; for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || \
		missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "make deps: installing$$missing (apt-get, no recommends)"; \
		if [ "$$(id -u)" != 0 ]; then echo "hvmm: run as root, or: apt-get install$$missing"; exit 1; fi; \
		mkdir -p build; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing; } >build/deps.log 2>&1 || \
		{ tail -n 30 build/deps.log; echo "make deps: apt-get failed (build/deps.log)"; exit 1; }; \
	fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build man/hvmm.1

help:
	@echo "make            build hvmm and the guest programs ($(BUILD))"
	@echo "make check      unit and guest-program tests (SANITIZE=1: ASan + UBSan)"
	@echo "make demo       boot the demo guest (in the nested host if there is no /dev/kvm)"
	@echo "make demo-vfio  a Linux guest drives a passed-through NVMe, in the nested host"
	@echo "make e2e        nested end-to-end rig in QEMU: real Linux guests, VFIO, the test"
	@echo "                matrix on real KVM; two host kernels (E2E_COMBOS=6.1/6.1: one)"
	@echo "make bench      benchmarks against QEMU"
	@echo "make bench-nested  L2 boot, NVMe passthrough and VFIO start-up vs QEMU in the e2e rig"
	@echo "                   (up to an hour per L1 kernel; BENCH_NESTED_KERNELS=6.1 for one)"
	@echo "make fuzz       libFuzzer targets, FUZZ_SECONDS=$(FUZZ_SECONDS) each (tests/fuzz)"
	@echo "make man        man/hvmm.1 from its scdoc source"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
