# fuzz/fuzz.mk — libFuzzer targets and static analysis. Included at the end of the top Makefile
# (`include fuzz/fuzz.mk`), after PKG_CFLAGS, PKG_LIBS, LIB_SRCS and B are set.
#
#   make fuzz-build            build-fuzz/fuzz_<target> (clang, ASan + UBSan + libFuzzer)
#   make fuzz                  run every target for FUZZ_SECONDS (default 60) from its seeds; a crash,
#                              leak, UB or time-out (FUZZ_TIMEOUT s for one input) fails
#   make fuzz FUZZ_TARGETS=flush FUZZ_SECONDS=600
#   make lint                  cppcheck and clang-tidy over helper/src (both must be clean)
#
# Corpora: fuzz/corpus/<target>/ (small checked-in seeds) and tests/unit/corpus/<target>/ (inputs that
# once crashed; tests/unit/test_corpus.c replays them) are read; new inputs go to build-fuzz/corpus/<target>/
# (not checked in). A crash leaves build-fuzz/crash-<target>-<sha1>: fix it, then copy the file to
# tests/unit/corpus/<target>/ so the unit tests keep replaying it.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_TIMEOUT  ?= 10
# extra libFuzzer options for every target, e.g. FUZZ_ARGS=-max_len=8192
FUZZ_ARGS     ?=
FUZZ_TARGETS  ?= flush fluentlog monitor asg_xml imds_creds args
FUZZ_B        := build-fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   := -std=gnu11 -g -O1 $(FUZZ_SAN) -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
                 -Wvla -Werror -fno-strict-aliasing -DFF_VERSION='"$(VERSION)"' -Ihelper/src $(PKG_CFLAGS)
FUZZ_OBJS     := $(LIB_SRCS:helper/src/%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)
# per-target libFuzzer options (dictionaries; parse_argv prints usage errors)
FUZZ_OPTS_fluentlog := -dict=fuzz/fluentlog.dict
FUZZ_OPTS_monitor   := -dict=fuzz/monitor.dict
FUZZ_OPTS_args      := -dict=fuzz/args.dict -close_fd_mask=3

.PHONY: fuzz fuzz-build fuzz-clean lint lint-cppcheck lint-clang-tidy

fuzz-build: $(FUZZ_BINS)

$(FUZZ_B)/obj:
	mkdir -p $@

# The modules with coverage instrumentation; the targets link what they use from the archive.
$(FUZZ_B)/obj/%.o: helper/src/%.c $(wildcard helper/src/*.h) | $(FUZZ_B)/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_B)/libff.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_B)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_B)/libff.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wmissing-prototypes -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/libff.a $(PKG_LIBS)

# Each target in turn (the machine's cores are left to the rest of CI); any finding stops with exit != 0.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_B)/corpus/$$t; \
	    seeds=""; for d in fuzz/corpus/$$t tests/unit/corpus/$$t; do [ -d $$d ] && seeds="$$seeds $$d"; done; \
	    echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
	    case $$t in fluentlog) o="$(FUZZ_OPTS_fluentlog)";; monitor) o="$(FUZZ_OPTS_monitor)";; \
	                args) o="$(FUZZ_OPTS_args)";; *) o="";; esac; \
	    if ! /usr/bin/time -f "fuzz $$t: %U s user + %S s system CPU, %e s wall, %M KiB max RSS" \
	        $(FUZZ_B)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 \
	            -print_final_stats=1 -artifact_prefix=$(FUZZ_B)/crash-$$t- $$o $(FUZZ_ARGS) \
	            $(FUZZ_B)/corpus/$$t $$seeds >$(FUZZ_B)/fuzz-$$t.log 2>&1; then \
	        tail -n 60 $(FUZZ_B)/fuzz-$$t.log; \
	        echo "fuzz $$t: FAILED — input in $(FUZZ_B)/crash-$$t-*; fix it, then add the file to tests/unit/corpus/$$t/" >&2; \
	        exit 1; \
	    fi; \
	    grep -E '^(fuzz |stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
	        $(FUZZ_B)/fuzz-$$t.log | tr '\n' ' '; echo; \
	done

fuzz-clean:
	rm -rf $(FUZZ_B)

clean: fuzz-clean

# The unit test that replays tests/unit/corpus/<target>/ compiles the fuzz targets in.
$(B)/unit/test_corpus: $(wildcard fuzz/fuzz_*.c)

# Static analysis. Both tools read the real compile flags (pkg-config include paths, FF_VERSION).
# cppcheck: warnings, portability and performance; the few suppressions are in fuzz/cppcheck.supp,
# each with its reason. clang-tidy: the checks in .clang-tidy; inline NOLINT(check) comments say why.
CPPCHECK   ?= cppcheck
CLANG_TIDY ?= clang-tidy
LINT_SRCS  := $(SRCS)

lint: lint-cppcheck lint-clang-tidy

lint-cppcheck:
	$(CPPCHECK) --quiet --error-exitcode=1 --enable=warning,portability,performance --inline-suppr \
	    --suppressions-list=fuzz/cppcheck.supp --std=c11 --language=c -D__GNUC__ -DFF_VERSION='"lint"' \
	    -Ihelper/src --library=posix $(LINT_SRCS)

lint-clang-tidy:
	$(CLANG_TIDY) --quiet --warnings-as-errors='*' $(LINT_SRCS) -- -std=gnu11 -DFF_VERSION='"lint"' \
	    -Ihelper/src $(PKG_CFLAGS)
