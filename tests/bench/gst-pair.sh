#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The NV12 720p sink->src pair against the same pipeline through GStreamer's
# shmsink/shmsrc, side by side: for each of REPS rounds, one broker run, then
# one shm run, each FRAMES frames as fast as they go. Prints wall time, frames
# per second and CPU (user + sys) per frame of the writer, the reader and the
# daemon. Checks nothing: figures only.
#
#   tests/bench/gst-pair.sh BUILD_DIR [FRAMES [REPS]]
#
# Needs gst-launch-1.0, the plugin built in BUILD_DIR (-Dgstreamer) and, for
# the shm rows, shmsink/shmsrc (gstreamer1.0-plugins-bad). GST_PAIR_PLUGIN_DIR
# takes the plugin from another build (an older one, against this daemon).
# GST_PAIR_FPS=N makes the writer live at N frames per second (videotestsrc
# is-live, the writer's sink synced): what a reader costs while it waits.
# GST_PAIR_COPY=1 puts identity drop-allocation=true before dmabrokersink, so
# that it copies each frame in, inside a WRITE bracket only as long as the
# copy (upstream that does not take its pool: a decoder with its own), and a
# reader waits with no bracket to queue behind.
set -eu
[ -n "${GST_PAIR_TRACE:-}" ] && set -x
build=$(realpath "${1:?usage: $0 BUILD_DIR [FRAMES [REPS]]}")
frames=${2:-600}
reps=${3:-3}
fps=${GST_PAIR_FPS:-}
caps="video/x-raw,format=NV12,width=1280,height=720,framerate=${fps:-1000}/1"
src="videotestsrc num-buffers=$frames pattern=ball ${fps:+is-live=true }! $caps"
sync=$([ -n "$fps" ] && echo true || echo false)

work=$(mktemp -d)
daemon=
cleanup() {
	[ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

export GST_PLUGIN_PATH="${GST_PAIR_PLUGIN_DIR:-$build/clients/gst}"
export GST_REGISTRY="$work/registry.bin"
export XDG_RUNTIME_DIR="$work"
chmod 700 "$work"
unset WAYLAND_DISPLAY
"$build/broker/dmabrokerd" --width 640 --height 480 >"$work/daemon.out" 2>"$work/daemon.err" &
daemon=$!
for _ in $(seq 100); do
	grep -q '^WAYLAND_DISPLAY=' "$work/daemon.out" 2>/dev/null && break
	sleep 0.05
done
export "$(grep -m1 '^WAYLAND_DISPLAY=' "$work/daemon.out")"
gst-inspect-1.0 dmabrokersrc >/dev/null

ticks=$(getconf CLK_TCK)
# utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# "wall user sys" of a command, from /usr/bin/time.
timed() { local out=$1; shift; /usr/bin/time -f '%e %U %S' -o "$out" "$@"; }

row() { # name writer-time reader-time daemon-ticks
	# time prints "Command exited with non-zero status N" first for a failure.
	read -r ww wu ws < <(tail -n1 "$2")
	read -r rw ru rs < <(tail -n1 "$3")
	awk -v n="$1" -v f="$frames" -v ww="$ww" -v wu="$wu" -v ws="$ws" -v rw="$rw" \
		-v ru="$ru" -v rs="$rs" -v d="$4" -v hz="$ticks" 'BEGIN {
		wall = rw > ww ? rw : ww
		printf "| %s | %.2f s | %.0f | %.2f ms | %.3f ms | %s |\n", n, wall, f / wall,
			(wu + ws) * 1000 / f, (ru + rs) * 1000 / f,
			d == "" ? "-" : sprintf("%.3f ms", d * 1000 / hz / f)
	}'
}

echo "$frames NV12 1280x720 frames per run${fps:+, live at $fps fps}" \
	"${GST_PAIR_COPY:+(copied into the sink)}, $reps rounds, $(nproc) CPUs"
echo
echo "| pair | wall | fps | writer CPU/frame | reader CPU/frame | daemon CPU/frame |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$reps"); do
	rm -f "$work/tokens"
	before=$(cpu_ticks "$daemon")
	timed "$work/r.time" gst-launch-1.0 -q dmabrokersrc token-file="$work/tokens" \
		timeout=20000 ! fakevideosink sync=false >"$work/r.log" 2>&1 &
	reader=$!
	# shellcheck disable=SC2086 # $src is a pipeline description
	timed "$work/w.time" gst-launch-1.0 -q $src ! \
		${GST_PAIR_COPY:+identity drop-allocation=true !} \
		dmabrokersink show=false sync=$sync \
		token-file="$work/tokens" >"$work/w.log" 2>&1
	wait "$reader"
	row "dmabrokersink → dmabrokersrc" "$work/w.time" "$work/r.time" \
		$(($(cpu_ticks "$daemon") - before))

	rm -f "$work/shm"
	# shellcheck disable=SC2086
	timed "$work/w.time" gst-launch-1.0 -q $src ! shmsink socket-path="$work/shm" \
		wait-for-connection=true sync=$sync shm-size=100000000 >"$work/w.log" 2>&1 &
	writer=$!
	for _ in $(seq 200); do [ -S "$work/shm" ] && break; sleep 0.01; done
	timed "$work/r.time" gst-launch-1.0 -q shmsrc socket-path="$work/shm" \
		num-buffers="$frames" ! "$caps" ! fakevideosink sync=false >"$work/r.log" 2>&1
	# shmsink errors out when its reader leaves at num-buffers, before its own EOS.
	wait "$writer" || true
	row "shmsink → shmsrc" "$work/w.time" "$work/r.time" ""
done
