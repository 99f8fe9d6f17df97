#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: dmabrokerd headless, dmab-paint and a dmab-share/dmab-view pair composited by
# it, and a screenshot of the output written to OUT (default: dmabroker-demo.png).
#
# usage: dmab-demo.sh BUILD_DIR [OUT]
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(realpath -m "${2:-dmabroker-demo.png}")
frames=${DMAB_DEMO_FRAMES:-300}

runtime=$(mktemp -d "${TMPDIR:-/tmp}/dmab-demo.XXXXXX")
chmod 0700 "$runtime"
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$runtime"
}
trap cleanup EXIT

export XDG_RUNTIME_DIR=$runtime
coproc daemon { exec "$build/broker/dmabrokerd" --width 1024 --height 600; }
# bash unsets daemon_PID and daemon[] as soon as it reaps the coprocess, which may be at any
# point once the daemon has exited: keep copies, and never read the originals again.
daemon_pid=$daemon_PID
exec {daemon_out}<&"${daemon[0]}"
pids+=("$daemon_pid")
if ! read -r line <&"$daemon_out" || [[ $line != WAYLAND_DISPLAY=* ]]; then
	echo "dmab-demo: dmabrokerd did not start (see its messages above)" >&2
	exit 1
fi
export WAYLAND_DISPLAY=${line#WAYLAND_DISPLAY=}
echo "dmab-demo: dmabrokerd is up on $WAYLAND_DISPLAY (pid $daemon_pid)"

"$build/clients/dmab-paint" --frames "$frames" &
paint=$!
pids+=("$paint")
# dmab-share streams until it is told to stop; dmab-view verifies every frame it reads.
"$build/clients/dmab-share" --token-file "$runtime/token" >/dev/null &
share=$!
pids+=("$share")
"$build/clients/dmab-view" --token-file "$runtime/token" --verify --frames "$frames" &
view=$!
pids+=("$view")

# Take the screenshot mid-stream, when every window has content.
sleep 2
grim "$out"
"$build/clients/dmab-info"

wait "$paint"
wait "$view"
kill -TERM "$share"
wait "$share"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
echo "dmab-demo: screenshot of the composited output: $out"
