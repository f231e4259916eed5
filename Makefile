# moesim: one Makefile. `make` builds ./moesim; `make run` simulates the default scenario;
# `make test` runs the cmocka suites twice (plain, then ASan+UBSan); `make bench` measures.
CC      ?= cc
PKGS    := gsl sqlite3 cmocka inih libcjson
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

.PHONY: all deps run test test-rel test-san bench validate clean
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

moesim: $(OBJ) $(B)/rel/cli/main.o
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# `make V=1` shows full command lines.
Q := $(if $(V),,@)
$(B)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<
$(B)/san/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC san  $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -c -o $@ $<

$(B)/rel/tests/%: $(B)/rel/tests/%.o $(OBJ)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)
$(B)/san/tests/%: $(B)/san/tests/%.o $(SAN_OBJ)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)
$(B)/san/moesim: $(SAN_OBJ) $(B)/san/cli/main.o
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -o $@ $^ $(LDLIBS)

run: deps moesim
	./moesim run scenarios/default.ini

# Tests find the binary under test through MOESIM (end-to-end tests run the command).
test: deps
	@$(MAKE) --no-print-directory test-rel
	@$(MAKE) --no-print-directory test-san

test-rel: moesim $(TESTS)
	@echo "== tests (release build)"
	@MOESIM=./moesim tests/run_tests.sh $(TESTS)

test-san: $(B)/san/moesim $(SAN_TESTS)
	@echo "== tests (ASan + UBSan build)"
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  MOESIM=$(B)/san/moesim tests/run_tests.sh $(SAN_TESTS)

bench: deps moesim $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done
	@tests/bench_run.sh ./moesim

clean:
	rm -rf $(B) moesim

-include $(shell find $(B) -name '*.d' 2>/dev/null)
