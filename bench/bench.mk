# bench.mk — `make bench` (the benchmark: writes bench/results.json, bench/results.md, bench/time_to_safe.png)
# and `make bench-smoke` (the same harness at tiny sizes into build/bench/smoke, for CI). Included by the
# top-level Makefile after its own rules (uses B, CC, CFLAGS, LDFLAGS, PKG_LIBS, PYTHON).
ifndef FF_BENCH_MK
FF_BENCH_MK := 1

BENCH_TOOLS := $(B)/bench/ffrun $(B)/bench/ffwatch $(B)/bench/fflogbench $(B)/bench/ffsizes
BENCH_ARGS  ?=

.PHONY: bench bench-smoke bench-tools

bench-tools: $(BENCH_TOOLS)

$(B)/bench:
	mkdir -p $@

# The process tools need nothing of ours; the log and size drivers link the helper's modules.
$(B)/bench/ffrun $(B)/bench/ffwatch: $(B)/bench/%: bench/%.c | $(B)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/bench/fflogbench $(B)/bench/ffsizes: $(B)/bench/%: bench/%.c $(wildcard helper/src/*.h) $(B)/libff.a | $(B)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libff.a $(PKG_LIBS)

bench: $(B)/fluent-flush bench-tools
	$(PYTHON) bench/bench.py --binary $(B)/fluent-flush --tools $(B)/bench --out bench $(BENCH_ARGS)

bench-smoke: $(B)/fluent-flush bench-tools
	$(PYTHON) bench/bench.py --smoke --binary $(B)/fluent-flush --tools $(B)/bench --out $(B)/bench/smoke $(BENCH_ARGS)

endif
