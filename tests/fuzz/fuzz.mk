# Fuzz targets (tests/fuzz/README.md), included by the top-level Makefile.
#
# Every tests/fuzz/fuzz_NAME.c is linked two ways from the same object:
#  - $(BUILD)/tests/fuzz/replay_NAME with replay.c's main(), by the normal build: `make check`
#    replays the committed corpus, so the targets keep compiling and fixed crashes stay fixed;
#  - $(BUILD)/fuzz_NAME with libFuzzer, when `make fuzz` builds into build/fuzz with clang.
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_HELPERS := $(BUILD)/tests/fuzz/common.o $(BUILD)/tests/unit/fake_hv.o \
                $(BUILD)/tests/unit/fake_vfio.o $(BUILD)/tests/unit/fake_vfio_dev.o \
                $(BUILD)/tests/unit/fake_vfio_cfg.o $(BUILD)/tests/unit/capture.o \
                $(BUILD)/tests/devices/testdev.o
FUZZ_REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)
FUZZ_BINS    := $(FUZZ_NAMES:%=$(BUILD)/fuzz_%)
FUZZ_SECONDS ?= 10
# How `make fuzz` builds: the whole product instrumented, undefined behaviour fatal.
FUZZ_FLAGS   := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

$(BUILD)/tests/fuzz/replay.o: CFLAGS += -DFUZZ_CORPUS_ROOT='"$(CURDIR)/tests/fuzz/corpus"'

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o \
                              $(FUZZ_HELPERS) $(LIB)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_HELPERS) $(LIB)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BINS)
