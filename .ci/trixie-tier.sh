#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# trixie-tier.sh [--bench] OUT_DIR - build and test the tree on Debian 13 (trixie) in a chroot.
#
# Builds (once) a trixie root with mmdebstrap from Debian's archive, with the packages of
# .ci/packages/trixie, and caches it under ~/.cache/dmabroker/trixie/ (like
# tests/kernel/fetch-kernel.sh caches the guest kernel). Then, in a private mount
# namespace where the cached root stays untouched (the source, /tmp and the builds live
# on tmpfs), it copies the tracked source in and, for gcc and for clang, runs a -Werror
# build and every test suite but `kernel` (unit, protocol, e2e with the real daemon, grim
# and weston-simple-shm, fuzz-corpus); the same suites on a gcc ASan+UBSan build; then
# the install test (tests/install/run.sh). The test logs are copied to
# OUT_DIR/trixie-{gcc,clang,asan}-testlog.json for .ci/summary.py.
#
# With --bench, it instead makes a release build and runs dmab-bench (the wlroots 0.18
# daemon against wl_shm through the same daemon) into OUT_DIR/trixie-bench.json; the
# arguments of DMAB_BENCH_ARGS (default "--scale 0x0") are passed to dmab-bench.
#
# The root is rebuilt when .ci/packages/trixie changes (its hash names the cache entry).
#
# Environment:
#   DMAB_TRIXIE_CACHE   cache directory (default ~/.cache/dmabroker/trixie)
#   DMAB_DEBIAN_MIRROR  archive URL (default http://deb.debian.org/debian)
set -euo pipefail

readonly PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

BENCH=0
if [[ ${1:-} == --bench ]]; then
	BENCH=1
	shift
fi
[[ $# -eq 1 ]] || die "usage: $PROG [--bench] OUT_DIR"
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(id -u) == 0 ]] || die "needs root (mmdebstrap --mode=root, chroot, mount namespaces)"
for tool in mmdebstrap unshare chroot git sha256sum; do
	command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install mmdebstrap)"
done

CACHE=${DMAB_TRIXIE_CACHE:-${HOME:?HOME is not set}/.cache/dmabroker/trixie}
MIRROR=${DMAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=$(grep -v '^#' "$SRC/.ci/packages/trixie" | tr -s ' \n' ' ')
KEY=$(printf '%s\n' "$PACKAGES" | sha256sum | cut -c1-16)
ROOT=$CACHE/root-$KEY

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
if [[ -f $ROOT/.dmab-complete ]]; then
	log "cached trixie root: $ROOT"
else
	log "building a trixie root from $MIRROR into $CACHE (once; 1 to 4 minutes)"
	rm -rf "$CACHE"/.tmp.* "$ROOT"
	TMP=$(mktemp -d "$CACHE/.tmp.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	# shellcheck disable=SC2086 # one word per package
	mmdebstrap --variant=apt --mode=root --include="$(echo $PACKAGES | tr ' ' ',')" \
		trixie "$TMP/root" "$MIRROR" 2>&1 | sed -u "s/^/$PROG: mmdebstrap: /" >&2
	date -u +%Y-%m-%dT%H:%M:%SZ >"$TMP/root/.dmab-complete"
	mv -T "$TMP/root" "$ROOT"
	rm -rf "$TMP"
	trap - EXIT
	# Older roots (another package list) are of no more use.
	find "$CACHE" -maxdepth 1 -name 'root-*' ! -name "root-$KEY" -exec rm -rf {} +
fi

# The tracked files (and the uncommitted ones), as the clone has them.
TARBALL=$(mktemp "${TMPDIR:-/tmp}/dmab-trixie-src.XXXXXX")
trap 'rm -f "$TARBALL"' EXIT
(cd "$SRC" && git ls-files -co --exclude-standard -z | tar --null -cf "$TARBALL" -T -)

# Begins both scripts that run inside the chroot.
read -r -d '' PRELUDE <<'EOF' || true
set -euo pipefail
export HOME=/root LANG=C.UTF-8
# The kernel tier does not run here: meson must not fetch its kernel into the root.
export DMAB_KERNEL_FETCH=0
cd /src
# build NAME [MESON_ARGS...]: configures and builds /build/NAME, logging to /out/trixie-NAME-*.log
build() {
	local name=$1
	shift
	meson setup "/build/$name" "$@" >"/out/trixie-$name-setup.log" 2>&1 ||
		{ cat "/out/trixie-$name-setup.log"; exit 1; }
	ninja -C "/build/$name" -j2 >"/out/trixie-$name-build.log" 2>&1 ||
		{ tail -n 60 "/out/trixie-$name-build.log"; exit 1; }
}
EOF

# Runs inside the chroot, after PRELUDE.
read -r -d '' INNER <<'EOF' || true
status=0
for cc in gcc clang; do
	echo "trixie-tier: $cc: $($cc --version | head -n 1)"
	case $cc in gcc) cxx=g++ ;; clang) cxx=clang++ ;; esac
	CC=$cc CXX=$cxx build "$cc" -Dwerror=true
	grep -A3 '^  dmabroker$' "/out/trixie-$cc-setup.log" || true
	meson test -C "/build/$cc" --print-errorlogs --no-suite kernel || status=1
	cp "/build/$cc/meson-logs/testlog.json" "/out/trixie-$cc-testlog.json"
done
# The wlroots 0.18 code paths under ASan+UBSan, as .ci/run does for 0.15.
echo "trixie-tier: gcc with ASan+UBSan"
build asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C /build/asan --print-errorlogs --no-suite kernel || status=1
cp /build/asan/meson-logs/testlog.json /out/trixie-asan-testlog.json
bash /src/tests/install/run.sh /build/gcc /build/install || status=1
exit $status
EOF

# Runs inside the chroot, after PRELUDE, instead of INNER with --bench.
read -r -d '' INNER_BENCH <<'EOF' || true
build release --buildtype=release -Dtests=false
# shellcheck disable=SC2086 # DMAB_BENCH_ARGS is a list of words
/build/release/clients/bench/dmab-bench $DMAB_BENCH_ARGS -o /out/trixie-bench.json
EOF
if [[ $BENCH == 1 ]]; then
	INNER="$PRELUDE
export DMAB_BENCH_ARGS='${DMAB_BENCH_ARGS:---scale 0x0}'
$INNER_BENCH"
	log "benchmarking the wlroots 0.18 daemon in trixie"
else
	INNER="$PRELUDE
$INNER"
	log "building and testing in trixie (gcc, then clang)"
fi
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private -- sh -c '
	set -e
	R=$1
	mount -t proc proc "$R/proc"
	mount --rbind /dev "$R/dev"
	mount -t sysfs sysfs "$R/sys"
	for d in tmp src build out run; do
		mkdir -p "$R/$d"
		mount -t tmpfs -o mode=1777 tmpfs "$R/$d"
	done
	mount --bind "$2" "$R/out"
	tar -xf "$3" -C "$R/src"
	exec chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin bash -c "$4"
' trixie-tier "$ROOT" "$OUT" "$TARBALL" "$INNER"
