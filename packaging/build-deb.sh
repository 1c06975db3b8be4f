#!/bin/sh
# build-deb.sh [OUTDIR] - `make deb`: build mailroom_*.deb from the work
# tree and check it with lintian (errors fail the build, warnings print).
#
# The tree's files (tracked, plus new ones git does not ignore) are copied
# into a temporary directory with packaging/debian/ as debian/, and
# dpkg-buildpackage runs there: the repository root never gets a debian/
# directory or build leftovers. The .deb, .changes and .buildinfo land in
# OUTDIR (default build/deb/).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
case "$out" in /*) ;; *) out=$root/$out ;; esac
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
tmp=$(mktemp -d /tmp/mailroom-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
src=$tmp/mailroom-$version
mkdir -p "$src"

cd "$root"
git ls-files -co --exclude-standard -z -- . ':!build' ':!var' ':!bench' ':!tests' |
	tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$src"
cp -r packaging/debian "$src/debian"

cd "$src"
dpkg-buildpackage -us -uc -b -j2 >"$tmp/build.log" 2>&1 || {
	tail -40 "$tmp/build.log" >&2
	echo "build-deb: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
mkdir -p "$out"
rm -f "$out"/mailroom_*.deb "$out"/mailroom_*.changes "$out"/mailroom_*.buildinfo
mv "$tmp"/mailroom_*.deb "$tmp"/mailroom_*.changes "$tmp"/mailroom_*.buildinfo "$out/"
deb=$(ls "$out"/mailroom_*.deb)
echo "build-deb: $deb"

if command -v lintian >/dev/null; then
	lintian --fail-on error --tag-display-limit 0 "$deb" | tee "$out/lintian.txt"
	echo "build-deb: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) errors," \
		"$(grep -c '^W:' "$out/lintian.txt" || true) warnings ($out/lintian.txt)"
fi
