# packaging.mk — `make rpm`, `make static`, `make install-data`. Included by the top-level Makefile
# (after its own rules: it uses VERSION, PREFIX, DESTDIR, BINDIR, MANDIR, UNITDIR, CC, PKG_CONFIG).
ifndef FF_PACKAGING_MK
FF_PACKAGING_MK := 1

INSTALL    ?= install
DOCDIR     ?= $(PREFIX)/share/doc/fluent-flush
LICENSEDIR ?= $(PREFIX)/share/licenses/fluent-flush
WATCH_UNIT := packaging/fluent-flush-watch.service

.PHONY: install-data rpm rpmlint static static-refresh

# ---- install layout: what the top-level install rule does not install itself --------------------
# The same layout as the RPM (the spec's %install runs `make install`): README under the doc dir,
# the licence under the licence dir, the watch unit under the unit dir (its ExecStart pointed at
# BINDIR, so that a PREFIX=/usr/local install runs the binary it installed).
install: install-data
install-data:
	$(INSTALL) -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -D -m 0644 LICENSE $(DESTDIR)$(LICENSEDIR)/LICENSE
	if [ -f $(WATCH_UNIT) ]; then \
	    $(INSTALL) -d $(DESTDIR)$(UNITDIR) && \
	    sed 's|^ExecStart=/usr/bin/fluent-flush |ExecStart=$(BINDIR)/fluent-flush |' $(WATCH_UNIT) \
	        >$(DESTDIR)$(UNITDIR)/$(notdir $(WATCH_UNIT)) && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$(notdir $(WATCH_UNIT)); fi

# ---- make rpm → build/rpm/fluent-flush-VERSION-1.x86_64.rpm (+ the .src.rpm) --------------------
# The source tarball is the work tree's tracked files (packaging/tarball.sh), so the RPM holds what
# `make` builds. rpmbuild runs with --nodeps: Debian has no RPM database that
# could satisfy BuildRequires; the Debian -dev packages of `make deps` are what the build uses.
# Two of Debian's rpm post-install steps differ from the RPM distributions': brp-compress is a bash
# script with a /bin/sh line (under dash it fails and leaves the man page uncompressed), so it runs
# with bash; brp-strip only strips debug info (the distributions move it to a -debuginfo package
# and strip the rest), so the binary is stripped here.
RPM_DIR    := build/rpm
RPM_TOP    := $(RPM_DIR)/top
RPM_TARBALL := $(RPM_TOP)/SOURCES/fluent-flush-$(VERSION).tar.gz

rpm:
	@command -v rpmbuild >/dev/null || { echo "rpmbuild not found: run \`make deps\` (Debian package rpm)" >&2; exit 1; }
	rm -rf $(RPM_DIR)
	mkdir -p $(RPM_TOP)/SOURCES $(RPM_TOP)/SPECS
	sed -e 's/@VERSION@/$(VERSION)/' \
	    -e 's/%@WATCH_BCOND@/$(if $(wildcard $(WATCH_UNIT)),%bcond_without,%bcond_with)/' \
	    packaging/fluent-flush.spec >$(RPM_TOP)/SPECS/fluent-flush.spec
	bash packaging/tarball.sh fluent-flush-$(VERSION) $(RPM_TARBALL)
	rpmbuild -ba --nodeps --quiet \
	    --define "_topdir $(abspath $(RPM_TOP))" \
	    --define "__brp_compress bash %{_rpmconfigdir}/brp-compress %{?_prefix}" \
	    --define "__brp_strip find \$$RPM_BUILD_ROOT%{_bindir} -type f -exec %{__strip} --strip-unneeded {} +" \
	    $(RPM_TOP)/SPECS/fluent-flush.spec
	cp $(RPM_TOP)/RPMS/x86_64/*.rpm $(RPM_TOP)/SRPMS/*.src.rpm $(RPM_DIR)/
	@ls -l $(RPM_DIR)/*.rpm

# Lint the built packages; packaging/rpmlint.toml says which checks are left out and why.
rpmlint:
	rpmlint -c packaging/rpmlint.toml $(RPM_DIR)/*.rpm

# ---- make static → build/static/fluent-flush ---------------------------------------------------
# A static-pie x86_64 binary with no runtime dependency but the kernel: glibc, OpenSSL, c-ares,
# zlib and jansson from Debian's -dev packages, libcurl.a built from Debian's curl source package by
# packaging/build-static-curl.sh into STATIC_CACHE (kept between runs; `make static-refresh` drops
# the downloaded source so the next build takes Debian's newest revision). NO_SYSTEMD=1: the binary
# finds the agent by --pid-file/--pid and signals it with kill().
STATIC_CACHE ?= .cache/static
SB           := build/static
STATIC_PC    := $(abspath $(STATIC_CACHE))/curl/lib/pkgconfig
# The five warnings glibc's linker emits for code that is never reached at run time (see
# shared/notes/STATIC-BUILD.md): libcrypto's DSO/BIO lookups and c-ares' getserv* calls.
STATIC_KNOWN_WARNINGS := dlopen getaddrinfo gethostbyname getservbyname getservbyport_r
# What our own objects must never reference in a static glibc binary (NSS, dlopen).
STATIC_FORBIDDEN := '^(getpw|getgr|getaddrinfo$$|gethostby|getservby|dlopen$$|getlogin)'

static:
	sh packaging/build-static-curl.sh $(STATIC_CACHE)
	PKG_CONFIG_PATH=$(STATIC_PC) $(MAKE) --no-print-directory NO_SYSTEMD=1 B=$(SB)/tree \
	    PKG_CONFIG="$(PKG_CONFIG) --static" $(SB)/tree/obj/main.o $(SB)/tree/libff.a
	@bad=$$(nm -u --format=posix $(SB)/tree/obj/*.o | awk '{print $$1}' | grep -E $(STATIC_FORBIDDEN) | sort -u); \
	if [ -n "$$bad" ]; then echo "static: our objects reference NSS/dlopen functions:" $$bad >&2; exit 1; fi
	$(CC) -static-pie $(filter-out -pie,$(LDFLAGS)) -o $(SB)/fluent-flush.unstripped \
	    $(SB)/tree/obj/main.o $(SB)/tree/libff.a \
	    $$(PKG_CONFIG_PATH=$(STATIC_PC) $(PKG_CONFIG) --static --libs libcurl jansson) 2>$(SB)/link.log \
	    || { cat $(SB)/link.log >&2; exit 1; }
	@cat $(SB)/link.log >&2
	@unknown=$$(grep -i 'warning' $(SB)/link.log \
	    | sed -n "s/.*[Uu]sing '\([A-Za-z0-9_]*\)' in statically linked.*/\1/p;t;p" \
	    | grep -vxF $(foreach w,$(STATIC_KNOWN_WARNINGS),-e $(w)) || true); \
	if [ -n "$$unknown" ]; then echo "static: new linker warnings (not the known five):" >&2; \
	    echo "$$unknown" >&2; rm -f $(SB)/fluent-flush.unstripped; exit 1; fi
	strip -o $(SB)/fluent-flush $(SB)/fluent-flush.unstripped
	@ls -l $(SB)/fluent-flush $(SB)/fluent-flush.unstripped

static-refresh:
	rm -rf $(STATIC_CACHE)

endif
