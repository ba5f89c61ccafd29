# bench/bench.mk - `make bench` (the top-level Makefile installs what it
# needs, then runs run-bench here): the benchmark programs (bench/*.c, one small
# program each, built into build/bench/) and their driver, bench/run.sh.
# Included by the top-level Makefile.
#
#   make bench                 every benchmark, about 6 minutes (root)
#   make bench BENCH_QUICK=1   a fast smoke run of each, about 40 seconds
#
# Results: a table on stdout, build/bench.json; docs/BENCHMARKS.md explains
# them. bench/run.sh --help lists the knobs (BENCH_ROUNDS, BENCH_ONLY, ...).

BENCH_SRCS  := $(filter-out bench/bench.c,$(wildcard bench/*.c))
BENCH_PROGS := $(BENCH_SRCS:bench/%.c=$(B)/bench/%)

.PHONY: run-bench
all: $(BENCH_PROGS)

$(B)/bench/%: bench/%.c bench/bench.c bench/bench.h lib/parse.h $(PARSE_OBJ)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -Ibench $(LDFLAGS) -o $@ $< bench/bench.c $(PARSE_OBJ) -pthread

run-bench: all
	$(Q)BENCH_QUICK=$(BENCH_QUICK) bench/run.sh
