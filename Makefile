# fluent-flush — top-level build. `make`, `make test`, `make demo`, `make install`, `make SAN=1`.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
DATADIR   ?= $(PREFIX)/share/fluent-flush
UNITDIR   ?= $(PREFIX)/lib/systemd/system
DESTDIR   ?=
VERSION   := 0.1.0

CC        ?= cc
PYTHON    ?= /usr/bin/python3
PKG_CONFIG ?= pkg-config
B         := build

# Static builds (make static) have no libsystemd: they pass NO_SYSTEMD=1.
ifeq ($(NO_SYSTEMD),1)
PKGS      := libcurl jansson
else
PKGS      := libsystemd libcurl jansson
endif

ifeq ($(filter deps clean distclean,$(MAKECMDGOALS)),)
ifneq ($(NO_PKGCHECK),1)
PKG_OK := $(shell $(PKG_CONFIG) --exists $(PKGS) && echo yes)
ifneq ($(PKG_OK),yes)
$(error missing development packages ($(PKGS)): run `make deps` (Debian) or install libsystemd-devel libcurl-devel jansson-devel)
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
endif
endif

CFLAGS    ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
                   -Wmissing-prototypes -Wvla -Werror -fno-strict-aliasing \
                   -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE \
                   -DFF_VERSION='"$(VERSION)"' -Ihelper/src $(PKG_CFLAGS)
override LDFLAGS += -pie -Wl,-z,relro,-z,now
ifeq ($(NO_SYSTEMD),1)
override CFLAGS += -DFF_NO_SYSTEMD=1
endif
ifeq ($(SAN),1)
override CFLAGS  += -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=address,undefined
B := build-san
endif

SRCS      := $(sort $(wildcard helper/src/*.c))
LIB_SRCS  := $(filter-out helper/src/main.c,$(SRCS))
LIB_OBJS  := $(LIB_SRCS:helper/src/%.c=$(B)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/unit/%)

.PHONY: all deps test unit integration demo install clean valgrind
all: $(B)/fluent-flush

$(B)/obj/%.o: helper/src/%.c $(wildcard helper/src/*.h) | $(B)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libff.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(B)/fluent-flush: $(B)/obj/main.o $(B)/libff.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/obj $(B)/unit:
	mkdir -p $@

# Unit tests (cmocka): tests/unit/test_X.c links against every module but main.c.
$(B)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(B)/libff.a | $(B)/unit
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests/unit -DFIXTURES='"$(FIXTURES)"' \
	    -DREPO_DIR='"$(CURDIR)"' $(LDFLAGS) -o $@ $< $(B)/libff.a $(PKG_LIBS) -lcmocka

FIXTURES ?= $(abspath $(firstword $(wildcard ../shared/fixtures) $(wildcard shared/fixtures)))
# The unit tests replay the real Fluentd runs: without them they cannot run, and say so.
$(UNIT_BINS): | check-fixtures
.PHONY: check-fixtures
check-fixtures:
	@test -n "$(FIXTURES)" && test -d "$(FIXTURES)/fluentd" || \
	    { echo "unit tests: the real Fluentd runs (shared/fixtures) were not found beside the repo; set FIXTURES=<dir>" >&2; exit 1; }

deps:
	sh tests/deps.sh

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

valgrind: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
	    valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
	        --error-exitcode=99 $$t >/dev/null; done

# The builds the tests run themselves (make rpm, make static, the bench tools) must not inherit this
# make's variables: command-line ones are exported (SAN=1 would put ASan into the RPM).
integration: $(B)/fluent-flush
	cd tests && env -u SAN -u MAKEFLAGS -u MFLAGS -u MAKEOVERRIDES -u MAKELEVEL \
	    FF_BINARY=$(CURDIR)/$(B)/fluent-flush $(PYTHON) -m pytest -q $(PYTEST_ARGS)

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) integration

demo: deps
	$(MAKE) all
	$(PYTHON) tests/demo.py

install: $(B)/fluent-flush
	install -D -m 0755 $(B)/fluent-flush $(DESTDIR)$(BINDIR)/fluent-flush
	install -D -m 0644 helper/fluent-flush.1 $(DESTDIR)$(MANDIR)/man1/fluent-flush.1
	install -d $(DESTDIR)$(DATADIR)/documents $(DESTDIR)$(DATADIR)/iam
	install -m 0644 documents/*.json documents/*.yaml $(DESTDIR)$(DATADIR)/documents/
	install -m 0644 iam/*.json iam/README.md $(DESTDIR)$(DATADIR)/iam/

clean:
	rm -rf build build-san

include packaging/packaging.mk
include bench/bench.mk
include fuzz/fuzz.mk
