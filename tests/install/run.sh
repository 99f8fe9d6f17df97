#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh BUILD_DIR WORK_DIR - the install test.
#
# Installs BUILD_DIR into WORK_DIR/destdir (meson install --destdir), then builds, with
# nothing but `pkg-config` pointed at that install (no source tree, no build tree):
#   - client.c, an out-of-tree dmabroker client (libdmabroker-client);
#   - compositor.c + report.cpp, an out-of-tree libwayland compositor embedding the broker,
#     one of whose translation units is C++ (libdmabroker-server);
#   - dmab-tinywl, the wlroots compositor with the adapter (libdmabroker-wlr) that
#     doc/integration.md walks through, from the guide's blocks (which must be the
#     installed example source, share/doc/dmabroker/examples/dmab-tinywl.c, byte for
#     byte), and every other code block of that guide, compiled as a translation unit;
# and runs each compositor with the client against it. Also checks that the headers are
# reachable as <dmabroker/...> only, and that the protocol XML is at ${pkgdatadir}.
#
# The build's .pc files are made relocatable (meson configure -Dpkgconfig.relocatable=true)
# so that the staged install is usable where it lies. Prints "N passed, N failed".
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 BUILD_DIR WORK_DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "$1" && pwd)
mkdir -p "$2"
WORK=$(cd "$2" && pwd)
DEST=$WORK/destdir
rm -rf "$DEST" "$WORK/out"
mkdir -p "$WORK/out"

passed=0 failed=0
pass() { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

meson configure "$BUILD" -Dpkgconfig.relocatable=true >/dev/null
meson install -C "$BUILD" --destdir "$DEST" --quiet >"$WORK/out/install.log" 2>&1 ||
	{ cat "$WORK/out/install.log"; exit 1; }

PCDIR=$(dirname "$(find "$DEST" -name libdmabroker-server.pc -print -quit)")
LIBDIR=$(dirname "$PCDIR")
export PKG_CONFIG_PATH=$PCDIR
export LD_LIBRARY_PATH=$LIBDIR
CC=${CC:-cc}
CXX=${CXX:-c++}
CFLAGS="-std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -D_POSIX_C_SOURCE=200809L"
cd "$WORK/out"

# Headers: <dmabroker/server.h>, and no server.h, client.h or wlr.h on the include path.
includedir=$(pkg-config --variable=includedir libdmabroker-server)
if [[ -f $includedir/dmabroker/server.h && -f $includedir/dmabroker/client.h ]] &&
	! pkg-config --cflags libdmabroker-server libdmabroker-client | grep -q 'include/dmabroker'; then
	pass "headers are <dmabroker/*.h>, and the include path is \${includedir}"
else
	fail "headers" "Cflags: $(pkg-config --cflags libdmabroker-server libdmabroker-client)"
fi
xml=$(pkg-config --variable=pkgdatadir libdmabroker-client)/dmabroker-v1.xml
if [[ -f $xml ]] && grep -q '<protocol name="dmabroker_v1">' "$xml"; then
	pass "protocol XML at \${pkgdatadir} ($xml)"
else
	fail "protocol XML" "$xml missing"
fi
soname=$(readelf -d "$LIBDIR/libdmabroker-server.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
# Into a variable first: grep -q exits at the first match, and under pipefail the
# SIGPIPE that objdump then gets would fail the test depending on the symbols' order.
dynsyms=$(objdump -T "$LIBDIR/libdmabroker-server.so")
if [[ $soname == libdmabroker-server.so.0 ]] &&
	grep -q 'DMABROKER_SERVER_0 *dmab_server_create' <<<"$dynsyms" &&
	grep -q 'DMABROKER_SERVER_0\.2 *dmab_server_get_events' <<<"$dynsyms"; then
	pass "SONAME $soname, symbols versioned DMABROKER_SERVER_0 and _0.2"
else
	fail "SONAME and symbol versions" "soname '$soname'"
fi

# shellcheck disable=SC2046,SC2086 # pkg-config output is a word list
build() { # build NAME CMD...: compile, reporting the result
	local name=$1
	shift
	if "$@" >"$name.log" 2>&1; then
		pass "build $name"
	else
		fail "build $name" "$(tail -n 20 "$name.log")"
		return 1
	fi
}
# shellcheck disable=SC2046,SC2086
build client $CC $CFLAGS "$HERE/client.c" -o client $(pkg-config --cflags --libs libdmabroker-client) || true
# shellcheck disable=SC2046,SC2086
build compositor-cxx $CXX -std=c++17 -Wall -Wextra -Werror -c "$HERE/report.cpp" -o report.o \
	$(pkg-config --cflags libdmabroker-server libdmabroker-client) || true
# shellcheck disable=SC2046,SC2086
build compositor $CC $CFLAGS "$HERE/compositor.c" report.o -o compositor -lstdc++ \
	$(pkg-config --cflags --libs libdmabroker-server wayland-server) || true

# The guide's code (extract-guide.sh): the walkthrough of dmab-tinywl, and other blocks.
"$HERE/extract-guide.sh" "$SRC/doc/integration.md" .
wlroots_pc=$(pkg-config --print-requires libdmabroker-wlr 2>/dev/null | awk '/^wlroots/ { print $1; exit }')
# The example is built, and its source installed, with libdmabroker-wlr.
example=$(find "$DEST" -path '*/doc/dmabroker/examples/dmab-tinywl.c' -print -quit)
if [[ -z $example && -z $wlroots_pc ]]; then
	echo "ok - the guide's walkthrough is the installed example # SKIP no libdmabroker-wlr"
elif [[ -z $example ]]; then
	fail "example source installed" "no share/doc/dmabroker/examples/dmab-tinywl.c"
elif cmp -s dmab-tinywl.c "$example"; then
	pass "the guide's walkthrough is the installed $example"
else
	fail "the guide's walkthrough is the installed example" \
		"$(diff dmab-tinywl.c "$example" | head -n 10)"
fi
if [[ -n $wlroots_pc ]]; then
	# As the example's own comment says: xdg-shell-protocol.h, then one cc.
	scanner=$(pkg-config --variable=wayland_scanner wayland-scanner)
	protocols=$(pkg-config --variable=pkgdatadir wayland-protocols)
	"$scanner" server-header "$protocols/stable/xdg-shell/xdg-shell.xml" xdg-shell-protocol.h
	# shellcheck disable=SC2046,SC2086
	build dmab-tinywl $CC $CFLAGS -I. dmab-tinywl.c -o dmab-tinywl \
		$(pkg-config --cflags --libs libdmabroker-wlr wayland-server) || true
else
	echo "ok - build dmab-tinywl # SKIP this install has no libdmabroker-wlr"
fi

# Every plain ```c block of doc/integration.md compiles too, as a translation unit of a
# compositor built against the install; those that include wlroots headers need an install
# with libdmabroker-wlr.
for block in guide-block-*.c; do
	[[ -e $block ]] || continue
	pcs="libdmabroker-server wayland-server libdrm"
	if grep -q '#include <wlr/' "$block"; then
		if [[ -z $wlroots_pc ]]; then
			echo "ok - build ${block%.c} # SKIP it includes wlroots headers; no libdmabroker-wlr"
			continue
		fi
		pcs="$pcs libdmabroker-wlr"
	fi
	# shellcheck disable=SC2046,SC2086
	build "${block%.c}" $CC $CFLAGS -c "$block" -o "${block%.c}.o" $(pkg-config --cflags $pcs) ||
		true
done

run_pair() { # run_pair COMPOSITOR: the client against it
	local compositor=$1 runtime line status=0 pid
	[[ -x ./$compositor && -x ./client ]] || return 0
	runtime=$(mktemp -d)
	chmod 0700 "$runtime"
	XDG_RUNTIME_DIR=$runtime "./$compositor" >"$compositor.out" 2>"$compositor.err" &
	pid=$!
	for _ in $(seq 100); do
		line=$(head -n 1 "$compositor.out")
		[[ -n $line ]] && break
		sleep 0.1
	done
	if [[ $line == WAYLAND_DISPLAY=* ]] &&
		XDG_RUNTIME_DIR=$runtime WAYLAND_DISPLAY=${line#WAYLAND_DISPLAY=} \
			timeout 30 ./client >"client-$compositor.log" 2>&1; then
		kill -TERM "$pid"
		wait "$pid" || status=$?
		if [[ $status == 0 ]]; then
			pass "client against $compositor"
		else
			fail "client against $compositor" "$compositor exited $status: $(cat "$compositor.err")"
		fi
	else
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		fail "client against $compositor" \
			"$(cat "$compositor.err" "client-$compositor.log" 2>/dev/null | tail -n 20)"
	fi
	rm -rf "$runtime"
}
run_pair compositor
run_pair dmab-tinywl

echo "install: $passed passed, $failed failed"
[[ $failed == 0 ]]
