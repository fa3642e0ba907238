#!/bin/bash
# tarball.sh — the source tarball rpmbuild builds from: git's tracked files as they are in the work
# tree (so the RPM holds what `make` builds; untracked build output never slips in), under one top
# directory, with stable order, owner and mtime.
#   packaging/tarball.sh TOPDIR OUT.tar.gz
set -eu
[ $# -eq 2 ] || { echo "usage: $0 TOPDIR OUT.tar.gz" >&2; exit 2; }
top=$1
out=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
cd "$(dirname "$0")/.."
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "tarball: not a git work tree" >&2; exit 1; }
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
list=$(mktemp)
trap 'rm -f "$list"' EXIT
# Files deleted in the work tree but still tracked are left out (tar would fail on them).
git ls-files -z -c | while IFS= read -r -d '' f; do
    [ -f "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
done >"$list"
tar --null -T "$list" --transform "s,^,$top/," --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$mtime" --mode='u+rw,go+r,go-w' -czf "$out"
