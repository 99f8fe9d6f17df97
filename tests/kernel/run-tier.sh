#!/bin/bash
# SPDX-License-Identifier: MIT
# run-tier.sh BUILD_DIR [GUEST_SCRIPT] - run the real-kernel test tier.
#
# Boots the cached Debian kernel (see fetch-kernel.sh) under qemu TCG with a
# small busybox initramfs. The initramfs loads vgem (+ udmabuf if modular) and
# 9p, mounts the host's / read-only over virtio-9p and chroots into it, so the
# host-built, dynamically linked binaries in BUILD_DIR run unchanged, with their
# libraries. Inside the chroot, /dev (devtmpfs), /proc, /sys, /tmp and /run are
# the guest's own; XDG_RUNTIME_DIR=/run/user/0 is fresh (0700). The guest
# script (default: tests/kernel/guest-tests.sh) then runs with BUILD_DIR and
# SOURCE_DIR in its environment.
#
# qemu exits 0 whatever the guest did, so the verdict comes from markers the
# guest prints on the serial console:
#   PASS <name> | FAIL <name> <reason> | SKIP <name> <reason> | INFO <text>
#   RESULT: pass=N fail=M skip=K      (totals, printed once at the end)
#   GUEST_DONE                        (the guest script ran to completion)
# Exit status: 0 if RESULT says fail=0 and pass>0 and GUEST_DONE was seen;
# 77 (meson: skipped) if qemu/busybox-static/... are missing, or no kernel is
# cached and DMAB_KERNEL_FETCH=0; 1 otherwise (a failed fetch included). The whole guest log is saved to
# BUILD_DIR/meson-logs/kernel-tier.log.
#
# Environment:
#   DMAB_SOURCE_DIR        source tree (default: two levels above this script)
#   DMAB_KERNEL_CACHE      kernel cache (default ~/.cache/dmabroker/kernel)
#   DMAB_KERNEL_FETCH=0    never download: skip the tier if no kernel is cached
#                          (by default fetch-kernel.sh downloads it, once)
#   DMAB_KERNEL_REQUIRE=1  turn every "SKIP: ..." (exit 77) into a failure (exit 1)
#   DMAB_KERNEL_TIMEOUT    seconds before qemu is killed (default 1200)
#   DMAB_KERNEL_VERBOSE=1  stream the guest console to stderr while it runs
#   DMAB_KERNEL_MODULES    extra modules to load in the guest (space separated)
#   DMAB_KERNEL_APPEND     extra kernel command-line arguments
#   DMAB_KERNEL_QEMU_ARGS  extra qemu arguments (word-split; later ones win)
#   DMAB_GUEST_*           passed through to the guest script unchanged
#                          (e.g. DMAB_GUEST_FILTER, see guest-tests.sh)
set -euo pipefail

readonly PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "$PROG: error: $*" >&2; exit 1; }
skip() { # not runnable here: meson's "skipped" status, unless the tier is required
	if [[ ${DMAB_KERNEL_REQUIRE:-0} == 1 ]]; then
		echo "FAIL: kernel tier required (DMAB_KERNEL_REQUIRE=1) but: $*"
		exit 1
	fi
	echo "SKIP: $*"
	exit 77
}
now() { date +%s.%N; }
T_START=$(now)

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $PROG BUILD_DIR [GUEST_SCRIPT]"
[[ -d $1 ]] || die "build directory '$1' does not exist"
BUILD_DIR=$(cd "$1" && pwd)
SOURCE_DIR=$(cd "${DMAB_SOURCE_DIR:-$HERE/../..}" && pwd)
GUEST_SCRIPT=${2:-$SOURCE_DIR/tests/kernel/guest-tests.sh}
[[ -f $GUEST_SCRIPT ]] || die "guest script '$GUEST_SCRIPT' not found"
GUEST_SCRIPT=$(cd "$(dirname "$GUEST_SCRIPT")" && pwd)/$(basename "$GUEST_SCRIPT")
for p in "$BUILD_DIR" "$SOURCE_DIR" "$GUEST_SCRIPT"; do
	[[ $p != *$'\n'* && $p != *"'"* ]] || die "unsupported character in path '$p'"
done

# ------------------------------------------------------------------ prerequisites
QEMU=${DMAB_QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || skip "$QEMU not found (apt-get install qemu-system-x86)"
[[ $(uname -m) == x86_64 ]] || skip "the kernel tier needs an x86_64 host (TCG would be too slow)"
BUSYBOX=
for b in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox-static; do
	# the initramfs has no libc: busybox must be the static build
	if [[ -x $b ]] && ! ldd "$b" >/dev/null 2>&1; then # ldd fails on static binaries
		BUSYBOX=$b
		break
	fi
done
[[ -n $BUSYBOX ]] || skip "no statically linked busybox (apt-get install busybox-static)"
for tool in cpio modinfo xz gzip sha256sum timeout; do
	command -v "$tool" >/dev/null || skip "'$tool' not found (apt-get install cpio kmod xz-utils)"
done

CACHE=${DMAB_KERNEL_CACHE:-${HOME:?HOME is not set}/.cache/dmabroker/kernel}
if [[ ${DMAB_KERNEL_FETCH:-1} != 0 ]]; then
	# A no-op when the kernel is cached; meson's kernel-image target ran it before the tests.
	KDIR=$(bash "$HERE/fetch-kernel.sh" | tail -n 1) ||
		die "cannot fetch the guest kernel (see above); DMAB_KERNEL_FETCH=0 skips the tier instead"
else
	KDIR=$(readlink -f "$CACHE/current" 2>/dev/null || true)
	[[ -n $KDIR && -f $KDIR/COMPLETE ]] ||
		skip "no kernel cached in $CACHE and DMAB_KERNEL_FETCH=0 (run tests/kernel/fetch-kernel.sh once)"
fi
KVER=$(cat "$KDIR/kver")
KIMAGE=$KDIR/$(cat "$KDIR/boot-image")
MODDIR=$KDIR/root/lib/modules/$KVER
[[ -f $KIMAGE && -d $MODDIR ]] || die "kernel cache $KDIR is damaged; delete it and fetch again"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/dmab-kernel-tier.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------ initramfs
MODULES="vgem udmabuf 9p 9pnet_virtio ${DMAB_KERNEL_MODULES:-}"

# /init, PID 1 in the guest. Per-run settings come from /tier.env, which is
# appended to the cached initramfs as a second cpio archive.
read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
# generated by tests/kernel/run-tier.sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
bail() {
	echo "FAIL tier/init $*"
	echo "RESULT: pass=0 fail=1 skip=0"
	poweroff -f
}
for m in $(cat /lib/modules/load-order); do
	insmod "/lib/modules/$m.ko" || echo "INFO tier: insmod $m failed"
done
[ -f /tier.env ] || bail "no /tier.env in the initramfs"
. /tier.env
echo "INFO tier: kernel $(uname -r), init at uptime $(cut -d' ' -f1 /proc/uptime)s"

# host / read-only over virtio-9p
R=/mnt/host
mkdir -p $R /mnt/orig
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot $R ||
	bail "cannot mount the host's / over virtio-9p"
mount -o bind $R /mnt/orig # unobstructed view, for paths under the guest's own /tmp and /run
mount -t devtmpfs devtmpfs $R/dev || bail "devtmpfs in chroot"
mkdir -p $R/dev/pts $R/dev/shm
# what udev would add: bash process substitution needs /dev/fd
ln -sfn /proc/self/fd $R/dev/fd
ln -sfn /proc/self/fd/0 $R/dev/stdin
ln -sfn /proc/self/fd/1 $R/dev/stdout
ln -sfn /proc/self/fd/2 $R/dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666 devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t proc proc $R/proc || bail "proc in chroot"
mount -t sysfs sysfs $R/sys || bail "sysfs in chroot"
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || bail "tmpfs /tmp in chroot"
mount -t tmpfs -o mode=0755 tmpfs $R/run || bail "tmpfs /run in chroot"
mkdir -p $R/run/user
mkdir -m 0700 $R/run/user/0
for p in "$BUILD_DIR" "$SOURCE_DIR" "${GUEST_SCRIPT%/*}"; do
	case $p in
	/tmp/* | /run/* | /dev/shm/*) mkdir -p "$R$p" && mount -o bind "/mnt/orig$p" "$R$p" ||
		bail "cannot expose $p inside the chroot" ;;
	esac
done
[ -x $R/bin/bash ] || bail "the host has no /bin/bash"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp XDG_RUNTIME_DIR=/run/user/0 LANG=C.UTF-8 TERM=dumb
export BUILD_DIR SOURCE_DIR DMAB_KERNEL_TIER=1
echo "INFO tier: chroot ready at uptime $(cut -d' ' -f1 /proc/uptime)s"
chroot $R /bin/bash "$GUEST_SCRIPT" </dev/null 2>&1
echo "INFO tier: guest script exited with status $? at uptime $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
EOF

INITRAMFS_FORMAT=1 # bump when the layout below changes
KEY=$({
	echo "format $INITRAMFS_FORMAT"
	echo "kernel $KDIR $(cat "$KDIR/version")"
	echo "modules $MODULES"
	sha256sum "$BUSYBOX" | cut -d' ' -f1
	printf '%s\n' "$INIT"
} | sha256sum | cut -c1-16)

IRDIR=$KDIR/initramfs
mkdir -p "$IRDIR" 2>/dev/null && [[ -w $IRDIR ]] || IRDIR=$BUILD_DIR/meson-private/kernel-tier
mkdir -p "$IRDIR"
INITRAMFS=$IRDIR/$KEY.cpio.gz

find_module() { # name -> path of its .ko[.xz|.zst|.gz]; '-' and '_' are equivalent
	local a=${1//-/_} b=${1//_/-}
	find "$MODDIR/kernel" \( -name "$a.ko" -o -name "$a.ko.*" -o -name "$b.ko" -o -name "$b.ko.*" \) \
		-print -quit
}
is_builtin() {
	grep -qE "/(${1//-/_}|${1//_/-})\.ko\$" "$MODDIR/modules.builtin" 2>/dev/null
}
declare -A SEEN=()
LOAD_ORDER=()
add_module() { # depth-first: dependencies are loaded before their users
	local name=$1 path dep
	[[ -z ${SEEN[$name]:-} ]] || return 0
	SEEN[$name]=1
	if is_builtin "$name"; then
		return 0
	fi
	path=$(find_module "$name")
	if [[ -z $path ]]; then
		echo "$PROG: note: no module '$name' in $KVER (built in as a bool option, or not configured)" >&2
		return 0
	fi
	for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
		add_module "$dep"
	done
	case $path in
	*.ko.xz) xz -dc "$path" >"$STAGE/lib/modules/$name.ko" ;;
	*.ko.zst) zstd -dcq "$path" >"$STAGE/lib/modules/$name.ko" ;;
	*.ko.gz) gzip -dc "$path" >"$STAGE/lib/modules/$name.ko" ;;
	*) cp "$path" "$STAGE/lib/modules/$name.ko" ;;
	esac
	LOAD_ORDER+=("$name")
}

if [[ ! -f $INITRAMFS ]]; then
	echo "$PROG: building initramfs $INITRAMFS" >&2
	STAGE=$WORK/initramfs
	mkdir -p "$STAGE"/{bin,dev,proc,sys,mnt,lib/modules}
	cp "$BUSYBOX" "$STAGE/bin/busybox"
	for m in $MODULES; do
		add_module "$m"
	done
	printf '%s\n' "${LOAD_ORDER[@]}" >"$STAGE/lib/modules/load-order"
	printf '%s\n' "$INIT" >"$STAGE/init"
	chmod 0755 "$STAGE/init"
	(cd "$STAGE" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) |
		gzip -1 >"$INITRAMFS.tmp.$$"
	mv -f "$INITRAMFS.tmp.$$" "$INITRAMFS"
	# keep the five most recent images
	# shellcheck disable=SC2012 # the names are hex digests
	ls -1t "$IRDIR"/*.cpio.gz 2>/dev/null | tail -n +6 | xargs -r rm -f
fi

# per-run settings: a second cpio archive, concatenated after the cached one
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
mkdir -p "$WORK/run"
{
	echo "BUILD_DIR=$(quote "$BUILD_DIR")"
	echo "SOURCE_DIR=$(quote "$SOURCE_DIR")"
	echo "GUEST_SCRIPT=$(quote "$GUEST_SCRIPT")"
	while IFS='=' read -r -d '' name value; do
		[[ $name == DMAB_GUEST_* && $name =~ ^[A-Za-z0-9_]+$ ]] || continue
		echo "export $name=$(quote "$value")"
	done < <(env -0)
} >"$WORK/run/tier.env"
(cd "$WORK/run" && echo tier.env | cpio -o -H newc --quiet --owner=0:0) | gzip -1 >"$WORK/run.cpio.gz"
cat "$INITRAMFS" "$WORK/run.cpio.gz" >"$WORK/initrd"

# ------------------------------------------------------------------ boot
TIMEOUT=${DMAB_KERNEL_TIMEOUT:-1200}
RAW=$WORK/console.raw
# shellcheck disable=SC2054 # the commas belong to qemu's option syntax
QEMU_ARGS=(
	-accel tcg # never KVM: stock kernels cannot run on this host's /dev/kvm
	-m 1024 -smp 2
	-nodefaults -no-user-config -nographic -serial stdio -no-reboot
	-kernel "$KIMAGE" -initrd "$WORK/initrd"
	-append "console=ttyS0 quiet panic=-1 ${DMAB_KERNEL_APPEND:-}"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
)
# shellcheck disable=SC2206 # word splitting intended
QEMU_ARGS+=(${DMAB_KERNEL_QEMU_ARGS:-})
echo "$PROG: booting $(cat "$KDIR/package") under qemu TCG (timeout ${TIMEOUT}s)" >&2
T_BOOT=$(now)
set +e
if [[ ${DMAB_KERNEL_VERBOSE:-0} == 1 ]]; then
	timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" </dev/null 2>&1 | tee "$RAW" >&2
	QEMU_RC=${PIPESTATUS[0]}
else
	timeout -k 10 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" </dev/null >"$RAW" 2>&1
	QEMU_RC=$?
fi
set -e
T_END=$(now)

# ------------------------------------------------------------------ verdict
# strip CRs and the firmware's terminal escapes so guest lines start at column 0
LOG_DIR=$BUILD_DIR/meson-logs
mkdir -p "$LOG_DIR"
LOG=$LOG_DIR/kernel-tier.log
tr -d '\r' <"$RAW" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g; s/^Booting from ROM\.*//' >"$LOG"

grep -E '^(PASS|FAIL|SKIP|INFO|RESULT:|GUEST_DONE)' "$LOG" || true
echo

RESULT=$(grep -E '^RESULT: ' "$LOG" | tail -n 1 || true)
field() { sed -n "s/.*[[:space:]]$1=\([0-9]\+\).*/\1/p" <<<"$RESULT"; }
NPASS=$(field pass) NFAIL=$(field fail) NSKIP=$(field skip)

# PASS count per backend: name[backend] or backend/... ; anything else is "other"
awk '/^PASS / {
	name = $2; b = "other"
	if (match(name, /\[[^]]*\]$/)) b = substr(name, RSTART + 1, RLENGTH - 2)
	else if (match(name, /^(udmabuf|dma-heap|drm-dumb)\//)) b = substr(name, 1, RLENGTH - 1)
	n[b]++
} END {
	line = "PASS per backend:"
	split("udmabuf dma-heap drm-dumb", order, " ")
	for (i = 1; i <= 3; i++) { line = line " " order[i] "=" (n[order[i]] + 0); delete n[order[i]] }
	for (b in n) line = line " " b "=" n[b]
	print line
}' "$LOG"
LC_ALL=C awk -v s="$T_START" -v b="$T_BOOT" -v e="$T_END" \
	'BEGIN { printf "wall time: %.1f s (%.1f s in qemu)\n", e - s, e - b }'
echo "kernel: $(cat "$KDIR/package") $(cat "$KDIR/version"); full log: $LOG"

verdict=
if [[ $QEMU_RC == 124 || $QEMU_RC == 137 ]]; then
	verdict="qemu timed out after ${TIMEOUT}s"
elif [[ $QEMU_RC != 0 ]]; then
	verdict="qemu exited with status $QEMU_RC: $(grep -m1 -i 'qemu-system' "$LOG" || tail -n 1 "$LOG")"
elif [[ -z $RESULT ]]; then
	verdict="the guest printed no RESULT line"
elif ! grep -q '^GUEST_DONE' "$LOG"; then
	verdict="the guest script did not finish (no GUEST_DONE marker)"
elif [[ ${NFAIL:-1} != 0 ]]; then
	verdict="$NFAIL test(s) failed"
elif [[ ${NPASS:-0} == 0 ]]; then
	verdict="no test passed"
fi
if [[ -n $verdict ]]; then
	echo "kernel tier FAILED: $verdict"
	exit 1
fi
echo "kernel tier passed: pass=$NPASS fail=0 skip=$NSKIP"
