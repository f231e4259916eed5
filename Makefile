# moesim: one Makefile. `make` builds ./moesim; `make run` simulates the default scenario;
# `make test` runs the cmocka suites twice (plain, then ASan+UBSan); `make bench` measures.
CC      ?= cc
SHELL   := /bin/bash
PKGS    := gsl sqlite3 cmocka inih libcjson
# Computed once when make reads this file. Targets that first install packages (`deps`) run
# the build in a sub-make, which reads the file again and so sees the fresh libraries.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L $(WARN) $(CFLAGS) -I. $(PKG_CFLAGS) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lm
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Debian packages moesim needs (dev headers, gnuplot for pictures, pkg-config to find them).
DEB_PKGS := libgsl-dev libsqlite3-dev libcmocka-dev libinih-dev libcjson-dev gnuplot-nox pkg-config

LIB_SRC  := $(wildcard sim/*.c models/*.c results/*.c) $(filter-out cli/main.c,$(wildcard cli/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c)

B := build
OBJ      := $(LIB_SRC:%.c=$(B)/rel/%.o)
SAN_OBJ  := $(LIB_SRC:%.c=$(B)/san/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(B)/rel/tests/%)
SAN_TESTS := $(TEST_SRC:tests/%.c=$(B)/san/tests/%)
BENCHES  := $(BENCH_SRC:tests/%.c=$(B)/rel/tests/%)

# keep test objects between runs
.SECONDARY:

.PHONY: all deps pkg-check fuzz-deps run test test-rel test-san test-same bench bench-run \
        fuzz fuzz-run validate validate-run clean
all: moesim

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing || exit 1; \
	  else \
	    echo "deps: missing packages. Run:"; echo "  sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# Every compile waits for this check: without it a missing library shows up as a cryptic
# "gsl/gsl_rng.h: No such file" (or a link error) instead of what to do.
pkg-check:
	@if [ -z "$(PKG_LIBS)" ]; then \
	  echo "pkg-config cannot find the libraries moesim needs ($(PKGS)):" >&2; \
	  pkg-config --print-errors --libs $(PKGS) >&2 || true; \
	  echo "run 'make deps' (installs the Debian packages, as root) or 'make run' / 'make test'," >&2; \
	  echo "which do it first" >&2; exit 1; \
	fi

moesim: $(OBJ) $(B)/rel/cli/main.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# `make V=1` shows full command lines.
Q := $(if $(V),,@)
$(B)/rel/%.o: %.c | pkg-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(B)/san/%.o: %.c | pkg-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC san  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

$(B)/rel/tests/%: $(B)/rel/tests/%.o $(OBJ)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/san/tests/%: $(B)/san/tests/%.o $(SAN_OBJ)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)
$(B)/san/moesim: $(SAN_OBJ) $(B)/san/cli/main.o
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

# `deps` first, then the build in a sub-make (never `run: deps moesim`: under -j the build
# would start before deps has installed anything, and with flags read before it did).
run: deps
	@$(MAKE) --no-print-directory moesim
	./moesim run scenarios/default.ini
	./moesim plot results/runs/default.db -o results/runs/default.png

# Tests find the binary under test through MOESIM (end-to-end tests run the command).
# `make test` also wants clang: its determinism leg compares the gcc and the clang build.
test: DEB_PKGS += clang
test: deps
	@$(MAKE) --no-print-directory test-rel
	@$(MAKE) --no-print-directory test-same
	@$(MAKE) --no-print-directory test-san

# Determinism: gcc and clang builds (when clang is installed) give identical results.
CLANG_OBJ := $(LIB_SRC:%.c=$(B)/clang/%.o)
$(B)/clang/%.o: %.c | pkg-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC clang $<")
	$(Q)clang $(ALL_CFLAGS) -c -o $@ $<
$(B)/clang/moesim: $(CLANG_OBJ) $(B)/clang/cli/main.o
	$(Q)clang $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

test-same: moesim
	@echo "== determinism (same scenario and seed, same results)"
	@if command -v clang >/dev/null 2>&1; then \
	  $(MAKE) --no-print-directory $(B)/clang/moesim && tests/same_results.sh ./moesim $(B)/clang/moesim; \
	else \
	  echo "  clang not installed: comparing two runs of the gcc build only"; \
	  tests/same_results.sh ./moesim ./moesim; \
	fi

test-rel: moesim $(TESTS)
	@echo "== tests (release build)"
	@MOESIM=./moesim tests/run_tests.sh $(TESTS)

test-san: $(B)/san/moesim $(SAN_TESTS)
	@echo "== tests (ASan + UBSan build)"
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  MOESIM=$(B)/san/moesim tests/run_tests.sh $(SAN_TESTS)

bench: deps
	@$(MAKE) --no-print-directory bench-run
# the whole-step scale case of issue 9 (scenarios/deepseek-v3.ini, 2,048 GPUs, its reductions,
# one simulation); BENCH_STEP_MIN / BENCH_STEP_MAX choose other sizes (64 .. 16384)
BENCH_STEP_MIN ?= 2048
BENCH_STEP_MAX ?= 2048
bench-run: moesim $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done
	@tests/bench_run.sh ./moesim
	@tests/bench_step.sh ./moesim $(BENCH_STEP_MIN) $(BENCH_STEP_MAX) --set run.balanced=false

# Fuzzing (libFuzzer, clang): `make fuzz` runs each target FUZZ_SECONDS (default 60) with
# ASan + UBSan on its corpus under tests/fuzz/; new interesting inputs are added to the
# working corpus build/fuzz/corpus_*, seeded from tests/fuzz/corpus_*; crashes are written
# as tests/fuzz/crash-* (make each one a regression test).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_TARGETS := $(B)/fuzz/fuzz_scenario $(B)/fuzz/fuzz_csv
FUZZ_LIB_SRC := $(filter sim/% models/%,$(LIB_SRC))

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="clang libclang-rt-14-dev $(DEB_PKGS)"

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_SRC) | pkg-check
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -I. $(PKG_CFLAGS) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS)

fuzz: fuzz-deps
	@$(MAKE) --no-print-directory fuzz-run
fuzz-run: $(FUZZ_TARGETS)
	@for t in scenario csv; do \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; mkdir -p $(B)/fuzz/corpus_$$t; \
	  $(B)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/crash-$$t- $(B)/fuzz/corpus_$$t tests/fuzz/corpus_$$t 2>&1 | \
	    grep -E '^(#|INFO: -max|stat::number_of_executed_units|==|SUMMARY|Done)' | tail -n 4; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || exit 1; \
	done

# Validation against closed forms and published measurements (docs/VALIDATION.md).
validate: deps
	@$(MAKE) --no-print-directory validate-run
validate-run: moesim $(B)/rel/validate
	@$(B)/rel/validate

$(B)/rel/validate: tests/validate.c | pkg-check
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS)

clean:
	rm -rf $(B) moesim

-include $(shell find $(B) -name '*.d' 2>/dev/null)
