#!/bin/bash
# SPDX-License-Identifier: MIT
# guest-tests.sh - the real-kernel tier's test list; runs INSIDE the VM.
#
# run-tier.sh boots a guest whose / is the host's / (read-only over 9p, with
# the guest's own /dev, /proc, /sys, /tmp, /run) and runs this script with
#   BUILD_DIR   the meson build directory (host path, read-only)
#   SOURCE_DIR  the source tree (host path, read-only)
#   XDG_RUNTIME_DIR=/run/user/0 (fresh, 0700), HOME=TMPDIR=/tmp (tmpfs)
#
# Output contract (read by run-tier.sh; one line each, name without spaces):
#   PASS <name>
#   FAIL <name> <reason>
#   SKIP <name> <reason>
#   INFO <text>                      free-form, echoed by run-tier.sh
#   RESULT: pass=N fail=M skip=K     once, after every test
#   GUEST_DONE                       last line: the script ran to completion
# Any other output (the tests' own) is indented with "  | " so that it can
# never be mistaken for a marker.
#
# Tests, in order: kernel facilities (device nodes), kernel-facts, the
# project's test-unit, test-protocol and test-e2e once per allocator backend
# (DMAB_TEST_ALLOCATOR=udmabuf | dma-heap | drm-dumb:/dev/dri/card0; exit 0 =
# PASS, 77 = SKIP, else FAIL), the compositor's fence checks
# (fence-compositor) and a zwp_linux_dmabuf_v1 client (linux-dmabuf-check),
# then every executable guest.d/*.sh hook.
# Each test runs in a fresh scratch directory under /tmp with its own HOME and
# XDG_RUNTIME_DIR (0700).
#
# Optional environment (run-tier.sh passes every DMAB_GUEST_* variable in):
#   DMAB_GUEST_FILTER=<extended regex>  run only the tests whose name matches
#   DMAB_GUEST_TEST_TIMEOUT=<seconds>   per test (default 300)
#   DMAB_GUEST_KERNEL_FACTS, DMAB_GUEST_TEST_UNIT, DMAB_GUEST_TEST_PROTOCOL,
#   DMAB_GUEST_TEST_ALLOC, DMAB_GUEST_TEST_E2E, DMAB_GUEST_TEST_WLR_DMABUF,
#   DMAB_GUEST_FENCE_COMPOSITOR,
#   DMAB_GUEST_LINUX_DMABUF_CHECK, DMAB_GUEST_DMABUF_CLIENT, DMAB_GUEST_GST_DMABUF,
#   DMAB_GUEST_GST_PLUGIN_DIR, DMAB_GUEST_DMAB_E2E_PEER, DMAB_GUEST_E2E_GST_PRELOAD,
#   DMAB_GUEST_E2E_GST (1: test-e2e's GStreamer tests too), DMAB_GUEST_TAIL (lines of a
#   failed test's output shown, default 15),
#   DMAB_GUEST_DMABROKERD, DMAB_GUEST_DMAB_{TINYWL,PAINT,SHARE,VIEW,INFO}
#       exact paths of the binaries (set by meson.build); without them the
#       usual places under BUILD_DIR are tried. test-alloc, when built, also
#       runs once per backend as alloc[<backend>], and test-wlr-dmabuf as
#       wlr-dmabuf[<backend>]. The programs under test
#       reach the e2e suite and the compositor checks as DMABROKERD,
#       DMAB_PAINT, ... and DMABUF_CLIENT, the variables they read.
#
# No `set -e`: a failing test is a result, not a reason to stop.
set -uo pipefail

: "${BUILD_DIR:?BUILD_DIR must be set}" "${SOURCE_DIR:?SOURCE_DIR must be set}"
FILTER=${DMAB_GUEST_FILTER:-}
TEST_TIMEOUT=${DMAB_GUEST_TEST_TIMEOUT:-300}
BACKENDS=(udmabuf dma-heap drm-dumb)
VGEM_CARD=/dev/dri/card0
# stdbuf works by LD_PRELOAD, which ASan refuses to run behind: sanitized builds keep their
# own buffering (the harness flushes before every fork anyway).
STDBUF=()
if command -v stdbuf >/dev/null && ! grep -qE '"name": "b_sanitize", "value": "[^"]*address' \
	"$BUILD_DIR/meson-info/intro-buildoptions.json" 2>/dev/null; then
	STDBUF=(stdbuf -oL -eL)
fi

n_pass=0 n_fail=0 n_skip=0
TEST= # name of the test being run
T_MARKS=0 # markers emitted by the current test

pass() { echo "PASS $1"; n_pass=$((n_pass + 1)); T_MARKS=$((T_MARKS + 1)); }
fail() { echo "FAIL $1 $2"; n_fail=$((n_fail + 1)); T_MARKS=$((T_MARKS + 1)); }
skip() { echo "SKIP $1 $2"; n_skip=$((n_skip + 1)); T_MARKS=$((T_MARKS + 1)); }
info() { echo "INFO $*"; }

# A fresh scratch directory and XDG_RUNTIME_DIR (0700) for one test.
fresh_env() {
	local d
	d=$(mktemp -d /tmp/test.XXXXXX) || return 1
	mkdir -m 0700 "$d/xdg" "$d/home"
	echo "$d"
}

# run_logged CMD... : run CMD in a fresh scratch dir with a timeout; its output
# goes to the console indented (and to $OUT), its status to $STATUS.
run_logged() {
	local dir
	dir=$(fresh_env) || { STATUS=1; OUT=/dev/null; return; }
	OUT=$dir/output
	# line-buffered stdio (glibc programs) so that a crash does not eat the log;
	# the outer 2>/dev/null silences bash's own "Aborted"-style job messages
	(cd "$dir" && HOME=$dir/home XDG_RUNTIME_DIR=$dir/xdg \
		timeout -k 5 "$TEST_TIMEOUT" "${STDBUF[@]}" "$@" </dev/null >"$OUT" 2>&1) 2>/dev/null
	STATUS=$?
	indent <"$OUT"
}

indent() { # builtins only: every exec costs ~0.1 s under TCG
	local l
	while IFS= read -r l || [[ -n $l ]]; do
		echo "  | $l"
	done
}

uptime_cs() { # uptime in centiseconds, into $UPTIME_CS
	local up _
	read -r up _ </proc/uptime
	UPTIME_CS=$((10#${up/./}))
}

status_text() { # exit status -> words
	case $1 in
	124) echo "timed out after ${TEST_TIMEOUT}s" ;;
	137) echo "killed by SIGKILL (ignored the timeout's SIGTERM, or out of memory)" ;;
	1[2-9][0-9]) echo "killed by signal $(($1 - 128)) ($(kill -l "$(($1 - 128))" 2>/dev/null || echo '?'))" ;;
	*) echo "exit status $1" ;;
	esac
}

# ---------------------------------------------------------------- test kinds

# A kernel device node the broker's allocators need.
t_char_dev() { # t_char_dev PATH
	if [[ -c $1 ]]; then
		pass "$TEST"
	elif [[ -e $1 ]]; then
		fail "$TEST" "$1 exists but is not a character device"
	else
		fail "$TEST" "$1 missing (kernel $(uname -r) lacks it or its module did not load)"
	fi
}

t_vgem_card() { # t_vgem_card /dev/dri/cardN: exists and is driven by vgem
	local card=${1##*/} dev
	if [[ ! -c $1 ]]; then
		fail "$TEST" "$1 missing (vgem not loaded?)"
		return
	fi
	dev=$(readlink -f "/sys/class/drm/$card/device" 2>/dev/null)
	if [[ ${dev##*/} == vgem ]]; then
		pass "$TEST"
	else
		fail "$TEST" "$1 is driven by '${dev##*/}', not vgem"
	fi
}

# A project test binary: exit 0 = PASS, 77 = SKIP, anything else = FAIL.
t_binary() { # t_binary ALLOCATOR PATH
	local alloc=$1 bin=$2 why
	if [[ ! -x $bin ]]; then
		skip "$TEST" "${bin#"$BUILD_DIR"/} not built"
		return
	fi
	DMAB_TEST_ALLOCATOR=$alloc run_logged "$bin"
	case $STATUS in
	0) pass "$TEST" ;;
	77)
		why=$(grep -v '^[[:space:]]*$' "$OUT" | tail -n 1)
		skip "$TEST" "${why:-exit status 77}"
		;;
	*)
		fail "$TEST" "$(status_text "$STATUS"); last output line: $(grep -v '^[[:space:]]*$' "$OUT" | tail -n 1)"
		tail -n ${DMAB_GUEST_TAIL:-15} "$OUT" | sed "s/^/INFO $TEST tail| /"
		;;
	esac
}

# test-e2e, and the frame counts dmab-view reported for the shared stream.
t_e2e() { # t_e2e ALLOCATOR PATH
	local line reason=
	OUT= # t_binary sets it only if the test ran
	# TCG runs the daemon and clients several times slower than the host: the e2e
	# suite scales its timeouts and holds (never its checks) by this factor.
	DMAB_TEST_TIME_SCALE=${DMAB_GUEST_TIME_SCALE:-3} t_binary "$@"
	[[ -f $OUT ]] || return
	while IFS= read -r line; do
		[[ $line == *"dmab-view: frames="* ]] && info "$TEST ${line#\# }"
		# a subtest that skips in the guest is worth seeing, not only counting
		[[ $line == "# SKIP "* ]] && reason=${line#\# SKIP }
		if [[ $line == "ok "*"# SKIP"* ]]; then
			info "$TEST skipped: ${line#ok } ${reason:-}"
			reason=
		fi
	done <"$OUT"
}

# test-wlr-dmabuf, and what it printed of wlroots' GLES2 import and of the import's cost.
t_wlr_dmabuf() { # t_wlr_dmabuf ALLOCATOR PATH
	local line
	OUT=
	t_binary "$@"
	[[ -f $OUT ]] || return
	while IFS= read -r line; do
		[[ $line == "# gles2 "* || $line == "# wlr-dmabuf["* || $line == "# SKIP "* ]] &&
			info "$TEST ${line#\# }"
	done <"$OUT"
}

# A program that prints its own PASS/FAIL/SKIP/INFO markers (kernel-facts, the
# guest.d hooks). Its markers are counted; other output is indented. It must
# print at least one marker; a non-zero exit without a FAIL marker is a FAIL.
t_markers() { # t_markers PATH [ARGS...]
	local bin=$1 line status='' name reason
	local before_fail=$n_fail before_marks=$T_MARKS
	if [[ ! -x $bin ]]; then
		skip "$TEST" "${bin#"$BUILD_DIR"/} not built"
		return
	fi
	local dir
	dir=$(fresh_env) || { fail "$TEST" "cannot create a scratch directory"; return; }
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "${line#PASS }" ;;
		"FAIL "*)
			read -r name reason <<<"${line#FAIL }"
			fail "$name" "$reason"
			;;
		"SKIP "*)
			read -r name reason <<<"${line#SKIP }"
			skip "$name" "$reason"
			;;
		"INFO "*) echo "$line" ;;
		"__STATUS "*) status=${line#__STATUS } ;;
		"") ;;
		*) echo "  | $line" ;;
		esac
	done < <(cd "$dir" && HOME=$dir/home XDG_RUNTIME_DIR=$dir/xdg BUILD_DIR=$BUILD_DIR \
		SOURCE_DIR=$SOURCE_DIR timeout -k 5 "$TEST_TIMEOUT" "$@" </dev/null 2>&1
	st=$?
	echo
	echo "__STATUS $st")
	status=${status:-1}
	if [[ $status == 77 && $T_MARKS == "$before_marks" ]]; then
		skip "$TEST" "exit status 77, no markers"
	elif [[ $status != 0 && $n_fail == "$before_fail" ]]; then
		fail "$TEST" "$(status_text "$status") without a FAIL marker"
	elif [[ $T_MARKS == "$before_marks" ]]; then
		fail "$TEST" "printed no PASS/FAIL/SKIP marker"
	fi
}

# The GStreamer elements' check (gst-dmabuf.c), with the plugin from the build
# and a registry in the guest's /tmp: the guest's / is read-only.
t_gst_dmabuf() { # t_gst_dmabuf PATH ALLOCATOR...
	local bin=$1
	shift
	if [[ ! -x $bin ]]; then
		skip "$TEST" "${bin#"$BUILD_DIR"/} not built (-Dgstreamer, gstreamer-app-1.0)"
		return
	fi
	t_markers "$(command -v env)" GST_PLUGIN_PATH="$GST_PLUGIN_DIR" \
		GST_REGISTRY=/tmp/gst-registry.bin "$bin" "$@"
}

# ---------------------------------------------------------------- test list
# register NAME FUNCTION [ARGS...]
T_NAMES=() T_CMDS=()
register() {
	local name=$1
	shift
	T_NAMES+=("$name")
	T_CMDS+=("$(printf '%q ' "$@")")
}

# 1. kernel facilities the allocators need
register facility:/dev/udmabuf t_char_dev /dev/udmabuf
register facility:/dev/dma_heap/system t_char_dev /dev/dma_heap/system
register "facility:$VGEM_CARD" t_vgem_card "$VGEM_CARD"

# Where a binary is: meson passes exact paths (DMAB_GUEST_<NAME>, see
# meson.build); otherwise the first of the candidates that exists (or the first).
locate() { # locate OVERRIDE CANDIDATE...
	local c
	if [[ -n $1 ]]; then
		echo "$1"
		return
	fi
	shift
	for c in "$@"; do
		[[ -e $c ]] && { echo "$c"; return; }
	done
	echo "$1"
}
KERNEL_FACTS=$(locate "${DMAB_GUEST_KERNEL_FACTS:-}" "$BUILD_DIR/tests/kernel/kernel-facts")
TEST_UNIT=$(locate "${DMAB_GUEST_TEST_UNIT:-}" \
	"$BUILD_DIR/tests/test-unit" "$BUILD_DIR/tests/unit/test-unit")
TEST_PROTOCOL=$(locate "${DMAB_GUEST_TEST_PROTOCOL:-}" \
	"$BUILD_DIR/tests/test-protocol" "$BUILD_DIR/tests/protocol/test-protocol")
# optional: the allocator tests, run per backend only when built
TEST_ALLOC=$(locate "${DMAB_GUEST_TEST_ALLOC:-}" \
	"$BUILD_DIR/tests/test-alloc" "$BUILD_DIR/tests/alloc/test-alloc")

TEST_E2E=$(locate "${DMAB_GUEST_TEST_E2E:-}" "$BUILD_DIR/tests/e2e/test-e2e")
# optional: the wlroots adapter's get_dmabuf and wlroots' GLES2 import, per dma-buf backend
TEST_WLR_DMABUF=$(locate "${DMAB_GUEST_TEST_WLR_DMABUF:-}" "$BUILD_DIR/tests/wlr/test-wlr-dmabuf")
FENCE_COMPOSITOR=$(locate "${DMAB_GUEST_FENCE_COMPOSITOR:-}" \
	"$BUILD_DIR/tests/kernel/fence-compositor")
LINUX_DMABUF_CHECK=$(locate "${DMAB_GUEST_LINUX_DMABUF_CHECK:-}" \
	"$BUILD_DIR/tests/kernel/linux-dmabuf-check")
EGL_IMPORT=$(locate "${DMAB_GUEST_EGL_IMPORT:-}" "$BUILD_DIR/tests/kernel/egl-import")
GST_DMABUF=$(locate "${DMAB_GUEST_GST_DMABUF:-}" "$BUILD_DIR/tests/kernel/gst-dmabuf")
GST_PLUGIN_DIR=${DMAB_GUEST_GST_PLUGIN_DIR:-$BUILD_DIR/clients/gst}
# what test-e2e, fence-compositor and linux-dmabuf-check run, by the variables they read
export DMABROKERD DMAB_TINYWL DMAB_PAINT DMAB_SHARE DMAB_VIEW DMAB_INFO DMABUF_CLIENT
export DMAB_E2E_PEER DMAB_GST_PLUGIN_DIR DMAB_GST_PRELOAD
DMAB_E2E_PEER=$(locate "${DMAB_GUEST_DMAB_E2E_PEER:-}" "$BUILD_DIR/tests/e2e/dmab-e2e-peer")
# test-e2e's GStreamer tests run at full speed, and under TCG dmabrokersrc cannot keep up
# with the sink on udmabuf and dma-heap: nearly every frame is overwritten before its READ
# bracket is ready, so the pair tests fail on frame counts, not on a broken contract. They
# run here only when asked (DMAB_GUEST_E2E_GST=1); gst-dmabuf below paces its frames and
# checks dmabrokersrc's dma-buf memory on every backend.
export DMAB_GST_SKIP_REASON="full-speed pairs outrun a TCG reader: DMAB_GUEST_E2E_GST=1 runs them"
DMAB_GST_PLUGIN_DIR=
DMAB_GST_PRELOAD=
if [[ ${DMAB_GUEST_E2E_GST:-0} == 1 && -e $GST_PLUGIN_DIR/libgstdmabroker.so ]]; then
	DMAB_GST_PLUGIN_DIR=$GST_PLUGIN_DIR
	DMAB_GST_PRELOAD=${DMAB_GUEST_E2E_GST_PRELOAD:-}
fi
DMABROKERD=$(locate "${DMAB_GUEST_DMABROKERD:-}" "$BUILD_DIR/broker/dmabrokerd")
DMAB_TINYWL=$(locate "${DMAB_GUEST_DMAB_TINYWL:-}" "$BUILD_DIR/clients/dmab-tinywl")
DMAB_PAINT=$(locate "${DMAB_GUEST_DMAB_PAINT:-}" "$BUILD_DIR/clients/dmab-paint")
DMAB_SHARE=$(locate "${DMAB_GUEST_DMAB_SHARE:-}" "$BUILD_DIR/clients/dmab-share")
DMAB_VIEW=$(locate "${DMAB_GUEST_DMAB_VIEW:-}" "$BUILD_DIR/clients/dmab-view")
DMAB_INFO=$(locate "${DMAB_GUEST_DMAB_INFO:-}" "$BUILD_DIR/clients/dmab-info")
DMABUF_CLIENT=$(locate "${DMAB_GUEST_DMABUF_CLIENT:-}" "$BUILD_DIR/tests/kernel/dmabuf-client")
# sanitized builds of the daemon and the clients know wlroots' one leak
export LSAN_OPTIONS=suppressions=$SOURCE_DIR/tests/e2e/lsan.supp:print_suppressions=0

# 2. measured dma-buf facts (tests/kernel/kernel-facts.c)
register kernel-facts t_markers "$KERNEL_FACTS"

# 3. the project's own tests, once per allocator backend
for b in "${BACKENDS[@]}"; do
	alloc=$b
	[[ $b == drm-dumb ]] && alloc=drm-dumb:$VGEM_CARD
	register "unit[$b]" t_binary "$alloc" "$TEST_UNIT"
	register "protocol[$b]" t_binary "$alloc" "$TEST_PROTOCOL"
	[[ -x $TEST_ALLOC ]] && register "alloc[$b]" t_binary "$alloc" "$TEST_ALLOC"
	# the daemon with the example and stock clients, checked by grim screenshots
	register "e2e[$b]" t_e2e "$alloc" "$TEST_E2E"
	[[ -x $TEST_WLR_DMABUF ]] && register "wlr-dmabuf[$b]" t_wlr_dmabuf "$alloc" "$TEST_WLR_DMABUF"
done

# 4. the compositor waits for kernel fences: implicit ones on a vgem dumb
# buffer, an acquire fence (a vgem sync_file) on a udmabuf, and an implicit one
# on a client's own udmabuf shown through zwp_linux_dmabuf_v1
register fence-compositor t_markers "$FENCE_COMPOSITOR"
# a zwp_linux_dmabuf_v1 client's own udmabuf, composited by dmabrokerd
register linux-dmabuf t_markers "$LINUX_DMABUF_CHECK"
# Mesa's surfaceless EGL imports a compositor read's dma-buf, per backend (optional build)
register egl-import t_markers "$EGL_IMPORT" udmabuf dma-heap "drm-dumb:$VGEM_CARD"
# dmabrokersrc pushes GstDmaBufMemory where its READ map is a dma-buf, frames intact
register gst-dmabuf t_gst_dmabuf "$GST_DMABUF" udmabuf dma-heap "drm-dumb:$VGEM_CARD"

# 5. hooks: every executable tests/kernel/guest.d/*.sh (see guest.d/README)
for hook in "$SOURCE_DIR"/tests/kernel/guest.d/*.sh; do
	[[ -f $hook && -x $hook ]] || continue
	name=${hook##*/}
	register "guest.d/${name%.sh}" t_markers "$hook"
done

# ---------------------------------------------------------------- run
info "guest: kernel $(uname -r), $(nproc) CPUs, uptime $(cut -d' ' -f1 /proc/uptime)s"
info "guest: BUILD_DIR=$BUILD_DIR SOURCE_DIR=$SOURCE_DIR"
for i in "${!T_NAMES[@]}"; do
	TEST=${T_NAMES[i]}
	if [[ -n $FILTER ]] && ! [[ $TEST =~ $FILTER ]]; then
		continue
	fi
	T_MARKS=0
	uptime_cs
	t0=$UPTIME_CS
	eval "${T_CMDS[i]}"
	if [[ $T_MARKS == 0 ]]; then
		fail "$TEST" "the test reported nothing (bug in guest-tests.sh)"
	fi
	uptime_cs
	dt=$((UPTIME_CS - t0))
	info "$TEST took $((dt / 100)).$(printf '%02d' $((dt % 100)))s"
done

echo "RESULT: pass=$n_pass fail=$n_fail skip=$n_skip"
echo "GUEST_DONE"
