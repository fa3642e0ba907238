#!/bin/sh
# build-static-curl.sh — libcurl.a for the static fluent-flush, from Debian's own curl source package.
#
#   packaging/build-static-curl.sh CACHE_DIR
#
# Leaves CACHE_DIR/curl/{lib/libcurl.a,lib/pkgconfig/libcurl.pc,include/curl/} and prints nothing on
# stdout. Everything it downloads or builds stays under CACHE_DIR (gitignored .cache/static/ by default),
# so a second run only checks the stamp. The host's apt configuration is never changed: the deb-src
# entries are derived from the host's own "deb" entries into a private apt state under CACHE_DIR.
#
# Why from source: Debian ships libcurl only as a shared object. What is done here is what the
# prototype recorded (shared/notes/STATIC-BUILD.md): Debian's curl 7.88.1 source (every Debian CVE
# patch), the patch series applied in order up to — not including — 90_gnutls (90_gnutls and 99_nss
# only rename the library for the other TLS flavours), the shipped configure (no autoreconf), OpenSSL +
# c-ares + zlib, HTTP/HTTPS only, no built-in CA location (the tool always sets CURLOPT_CAINFO).
set -eu

CURL_UPSTREAM=7.88.1
# Bump when the recipe below changes: a cached build made with another recipe is rebuilt.
RECIPE=1

[ $# -eq 1 ] || { echo "usage: $0 CACHE_DIR" >&2; exit 2; }
mkdir -p "$1"
cache=$(cd "$1" && pwd)
prefix=$cache/curl
stamp=$prefix/.stamp

say() { echo "static-curl: $*" >&2; }
die() { echo "static-curl: error: $*" >&2; exit 1; }

for tool in apt-get dpkg-source patch make gcc; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (run \`make deps\`: dpkg-dev, patch, gcc, make)"
done
for lib in libssl libcrypto libcares libz; do
    [ -n "$(gcc -print-file-name=$lib.a | grep /)" ] && [ -f "$(gcc -print-file-name=$lib.a)" ] \
        || die "$lib.a not found (run \`make deps\`: libssl-dev libc-ares-dev zlib1g-dev)"
done

# ---- 1. the source package: downloaded once into $cache/dl --------------------------------------
dl=$cache/dl
dsc=$(ls "$dl"/curl_"$CURL_UPSTREAM"-*.dsc 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$dsc" ]; then
    apt=$cache/apt
    rm -rf "$apt"
    mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial" "$dl"
    : >"$apt/sources.list"
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release (not Debian?)"
    # deb822 files (Debian 12's default /etc/apt/sources.list.d/debian.sources): every stanza whose
    # Suites hold $codename or $codename-*, with Types: deb → Types: deb-src.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '
            function flush() {
                if (n && keep && deb) { for (i = 1; i <= n; i++) print buf[i]; print "" }
                n = 0; keep = 0; deb = 0
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            {
                line = $0
                if (tolower($1) == "types:") { deb = (line ~ /[ \t]deb([ \t]|$)/); line = "Types: deb-src" }
                if (tolower($1) == "enabled:" && tolower($2) == "no") { deb = 0 }
                if (tolower($1) == "suites:") {
                    for (i = 2; i <= NF; i++) if ($i == cn || index($i, cn "-") == 1) keep = 1
                }
                buf[++n] = line
            }
            END { flush() }' "$f" >"$apt/sources.list.d/$(basename "$f")"
    done
    # one-line format (/etc/apt/sources.list, *.list): "deb [opts] URI suite comps" → "deb-src …"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '$1 == "deb" {
                s = ($2 ~ /^\[/) ? 0 : 3
                if (!s) for (i = 2; i <= NF; i++) if ($i ~ /\]$/) { s = i + 2; break }
                if (s && ($s == cn || index($s, cn "-") == 1)) { sub(/^deb/, "deb-src"); print }
            }' "$f" >>"$apt/sources.list"
    done
    if ! grep -qs 'deb-src' "$apt/sources.list" "$apt"/sources.list.d/*.sources; then
        die "no apt source for $codename found in /etc/apt to derive a deb-src entry from"
    fi
    aptopt="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=$apt/sources.list.d \
            -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache \
            -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root"
    say "apt-get update (private deb-src lists under $apt)"
    # shellcheck disable=SC2086
    apt-get $aptopt -q update >&2 || die "apt-get update of the deb-src lists failed"
    say "apt-get source --download-only curl"
    # shellcheck disable=SC2086
    (cd "$dl" && apt-get $aptopt -q source --download-only curl >&2) || die "apt-get source curl failed"
    rm -rf "$apt"
    dsc=$(ls "$dl"/curl_"$CURL_UPSTREAM"-*.dsc 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dsc" ] || die "Debian's curl source is not $CURL_UPSTREAM any more: $(ls "$dl")"
fi
deb_version=$(sed -n 's/^Version: *//p' "$dsc")

want="recipe=$RECIPE source=$deb_version prefix=$prefix"
if [ -f "$prefix/lib/libcurl.a" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    exit 0
fi

# ---- 2. unpack, patch up to 90_gnutls ----------------------------------------------------------
src=$cache/src
rm -rf "$src" "$prefix"
mkdir -p "$src"
say "unpacking $(basename "$dsc") (Debian $deb_version)"
dpkg-source --skip-patches -x "$dsc" "$src/curl" >"$src/unpack.log" 2>&1 \
    || { cat "$src/unpack.log" >&2; die "dpkg-source -x failed"; }
series=$src/curl/debian/patches/series
[ -f "$series" ] || die "no debian/patches/series in $dsc"
grep -q '^90_gnutls' "$series" || die "the series has no 90_gnutls any more: review the stop rule"
applied=0
while read -r p opt; do
    case "$p" in ''|'#'*) continue ;; 90_gnutls*) break ;; esac
    # quilt's default is -p1; a series line may name another level.
    (cd "$src/curl" && patch -s -N ${opt:--p1} <"debian/patches/$p") >&2 || die "patch $p failed"
    applied=$((applied + 1))
done <"$series"
say "applied $applied Debian patches (stopped before 90_gnutls)"

# ---- 3. configure + make ---------------------------------------------------------------------
say "configure (about 20 s)"
cd "$src/curl"
CFLAGS="-O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE" \
./configure --prefix="$prefix" --disable-shared --enable-static --disable-maintainer-mode \
    --with-openssl --enable-ares --with-zlib --disable-openssl-auto-load-config \
    --without-ca-bundle --without-ca-path --without-ca-fallback \
    --enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp \
    --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
    --disable-smtp --disable-gopher --disable-mqtt \
    --disable-manual --disable-ntlm --disable-ntlm-wb --disable-netrc --disable-unix-sockets \
    --disable-alt-svc --disable-websockets --enable-crypto-auth \
    --without-libpsl --without-libidn2 --without-nghttp2 --without-brotli --without-zstd \
    --without-librtmp --without-libssh2 --without-libssh --without-gssapi --without-libgsasl \
    --without-hyper --without-nghttp3 --without-ngtcp2 --without-quiche --without-msh3 \
    >"$src/configure.log" 2>&1 || { tail -n 40 "$src/configure.log" >&2; die "configure failed"; }
# The summary must say what the note says: HTTP and HTTPS, c-ares, OpenSSL, no CA bundle.
grep -Eq '^ *Protocols: +HTTP HTTPS *$' "$src/configure.log" \
    || { grep -E '^ *Protocols:' "$src/configure.log" >&2; die "unexpected protocol set"; }
grep -Eiq '^ *resolver: +c-ares' "$src/configure.log" || die "resolver is not c-ares"
grep -Eq '^ *SSL: +enabled \(OpenSSL' "$src/configure.log" || die "TLS is not OpenSSL"
grep -Eq '^ *ca cert bundle: +no *$' "$src/configure.log" || die "a CA bundle got built in"
say "make (about 10 s)"
make -C lib -j"$(nproc)" >"$src/make.log" 2>&1 || { tail -n 40 "$src/make.log" >&2; die "make failed"; }
make -C lib install >>"$src/make.log" 2>&1 && make -C include install >>"$src/make.log" 2>&1 \
    && make install-pkgconfigDATA >>"$src/make.log" 2>&1 \
    || { tail -n 40 "$src/make.log" >&2; die "make install failed"; }
[ -f "$prefix/lib/libcurl.a" ] && [ -f "$prefix/lib/pkgconfig/libcurl.pc" ] || die "install incomplete"
echo "$want" >"$stamp"
say "done: $prefix/lib/libcurl.a (Debian $deb_version)"
