#!/bin/sh
# Install everything the build and the tests need (Debian bookworm packages + the pinned npm S3 server).
# Idempotent: a second run only checks. Used by `make deps`, hence by `make test` and `make demo`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

PKGS="gcc make libc6-dev pkg-config libsystemd-dev libcurl4-openssl-dev libjansson-dev libcmocka-dev \
      python3 python3-boto3 python3-botocore python3-pytest util-linux procps iproute2 \
      systemd dbus valgrind clang rpm gnuplot-nox file g++ libre2-dev curl \
      rpmlint rpm2cpio cpio groff-base man-db dpkg-dev patch binutils git libc-ares-dev libssl-dev zlib1g-dev strace openssl libclang-rt-14-dev cppcheck clang-tidy time"

# Node.js and npm (for s3rver): any install will do (the machine image may ship its own Node.js,
# which conflicts with Debian's npm package); Debian's when there is none.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PKGS="$PKGS nodejs npm"
fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "deps: missing Debian packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends $missing >&2
fi

# s3rver, pinned by tests/package-lock.json
if [ ! -x "$here/node_modules/.bin/s3rver" ]; then
    echo "deps: installing s3rver (npm ci)" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
