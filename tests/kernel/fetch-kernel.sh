#!/bin/bash
# SPDX-License-Identifier: MIT
# fetch-kernel.sh - download and cache the guest kernel for the real-kernel test tier.
#
# Resolves the versioned image package behind Debian's `linux-image-amd64`
# metapackage in bookworm-backports (6.12: udmabuf + system dma-heap built in,
# vgem as a module), downloads it through a *private* APT configuration (the
# machine's /etc/apt is only read, never modified), unpacks it and extracts the
# ELF vmlinux used for fast PVH boot under qemu TCG.
#
# Cache layout (DMAB_KERNEL_CACHE, default ~/.cache/dmabroker/kernel):
#   apt/                    private APT state (sources.list, lists, apt.conf)
#   <package>_<version>/    one complete kernel, written atomically:
#     root/boot/            config-*, System.map-*, vmlinuz-*
#     root/lib/modules/KVER modules (.ko.xz) and modules.builtin
#     vmlinux               ELF payload of vmlinuz (PVH boot), if CONFIG_PVH=y
#     boot-image            path of the image qemu should boot (vmlinux or vmlinuz)
#     kver, package, version
#     COMPLETE              stamp written last
#   current -> <package>_<version>
#
# Once a kernel is cached, a run is a no-op that touches no network and just
# prints the cached directory. Set DMAB_KERNEL_REFRESH=1 to re-resolve the
# metapackage (a new upstream version gets its own directory; `current` is
# switched atomically; old versions are kept until removed by hand).
#
# Environment:
#   DMAB_KERNEL_CACHE    cache directory (default ~/.cache/dmabroker/kernel)
#   DMAB_KERNEL_REFRESH  1: query the archive even if a kernel is cached
#   DMAB_KERNEL_SUITE    Debian suite (default bookworm-backports)
#   DMAB_KERNEL_META     metapackage (default linux-image-amd64)
#   DMAB_KERNEL_QUIET_CACHED  non-empty: say nothing when the kernel is cached
#   DMAB_DEBIAN_MIRROR   archive URL (default: the machine's configured Debian
#                        mirror, else http://deb.debian.org/debian)
#
# Output: progress on stderr; the last line on stdout is the absolute path of
# the cached kernel directory. Exit status non-zero (with a message) on failure.
set -euo pipefail

readonly PROG=${0##*/}
die() { echo "$PROG: error: $*" >&2; exit 1; }
log() { echo "$PROG: $*" >&2; }

CACHE=${DMAB_KERNEL_CACHE:-${HOME:?HOME is not set}/.cache/dmabroker/kernel}
SUITE=${DMAB_KERNEL_SUITE:-bookworm-backports}
META=${DMAB_KERNEL_META:-linux-image-amd64}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A cached kernel is usable when its directory carries the COMPLETE stamp.
cached_dir() {
	local d
	[[ -L $CACHE/current ]] || return 1
	d=$(readlink -f "$CACHE/current") || return 1
	[[ -f $d/COMPLETE && -f $d/boot-image ]] || return 1
	echo "$d"
}

if [[ ${DMAB_KERNEL_REFRESH:-0} != 1 ]] && d=$(cached_dir); then
	[[ -n ${DMAB_KERNEL_QUIET_CACHED:-} ]] ||
		log "cached kernel: $(cat "$d/package") $(cat "$d/version")"
	echo "$d"
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb python3 flock; do
	command -v "$tool" >/dev/null || die "'$tool' not found (this script needs a Debian-like host)"
done
[[ $(dpkg --print-architecture) == amd64 ]] ||
	die "host architecture is $(dpkg --print-architecture); the kernel tier needs amd64"

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)

# Serialise concurrent fetches; whoever waited re-checks the cache afterwards.
exec 9>"$CACHE/.lock"
flock 9
if [[ ${DMAB_KERNEL_REFRESH:-0} != 1 ]] && d=$(cached_dir); then
	log "cached kernel (fetched concurrently): $(cat "$d/package") $(cat "$d/version")"
	echo "$d"
	exit 0
fi

# ---------------------------------------------------------------- private APT
detect_mirror() {
	local m=""
	if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
		m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $m && -r /etc/apt/sources.list ]]; then
		m=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):.*\/debian\/?$/) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=${DMAB_DEBIAN_MIRROR:-$(detect_mirror)}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -r $KEYRING ]] || die "$KEYRING not found (apt-get install debian-archive-keyring)"

APTDIR=$CACHE/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/etc/sources.list.d"
: >"$APTDIR/status" # empty dpkg status: the host's installed packages are irrelevant
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/etc/sources.list"
cat >"$APTDIR/etc/apt.conf" <<EOF
Dir::State "$APTDIR";
Dir::State::Lists "$APTDIR/lists";
Dir::State::status "$APTDIR/status";
Dir::Cache "$APTDIR";
Dir::Cache::archives "$APTDIR/archives";
Dir::Etc::SourceList "$APTDIR/etc/sources.list";
Dir::Etc::SourceParts "$APTDIR/etc/sources.list.d";
Dir::Etc::Preferences "/nonexistent";
Dir::Etc::PreferencesParts "/nonexistent";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
EOF
if [[ $(id -u) != 0 ]]; then
	# apt only drops privileges (to _apt) when it is root; as a user it has nothing to drop
	echo 'APT::Sandbox::User "'"$(id -un)"'";' >>"$APTDIR/etc/apt.conf"
fi
export APT_CONFIG=$APTDIR/etc/apt.conf

APTLOG=$APTDIR/last.log
run_apt() { # run_apt CMD... : quiet apt with its output kept for error reports
	if ! "$@" >"$APTLOG" 2>&1; then
		sed 's/^/  /' "$APTLOG" >&2
		die "'$*' failed (APT_CONFIG=$APT_CONFIG)"
	fi
}

resolve_failed() { # a refresh that cannot reach the archive keeps the cached kernel
	if d=$(cached_dir); then
		log "warning: $*; keeping the cached kernel $(cat "$d/version")"
		echo "$d"
		exit 0
	fi
	sed 's/^/  /' "$APTLOG" >&2
	die "$* (APT_CONFIG=$APT_CONFIG)"
}

log "reading $SUITE from $MIRROR"
# apt-get update exits 0 even when index files failed to download
if ! apt-get -q update >"$APTLOG" 2>&1 || grep -qE '^(E:|W: (Failed to fetch|Some index files))' "$APTLOG"; then
	resolve_failed "'apt-get update' failed"
fi

# The metapackage's dependency names the current ABI's image package; old ABI
# versions drop out of the archive, so never hard-code the versioned name.
PKG=$({ apt-cache depends "$META" 2>>"$APTLOG" || true; } |
	awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[[ -n $PKG ]] || resolve_failed "cannot resolve $META in $SUITE (is $MIRROR reachable?)"
VER=$({ apt-cache show --no-all-versions "$PKG" 2>>"$APTLOG" || true; } |
	awk '/^Version:/ { print $2; exit }')
[[ -n $VER ]] || resolve_failed "no version of $PKG found in $SUITE"

NAME="${PKG}_${VER//:/%3a}"
DEST=$CACHE/$NAME
if [[ -f $DEST/COMPLETE ]]; then
	log "$PKG $VER already cached"
else
	SIZE=$({ apt-cache show --no-all-versions "$PKG" 2>/dev/null || true; } |
		awk '/^Size:/ { printf "%.0f MiB", $2 / 1048576; exit }')
	log "downloading $PKG $VER (${SIZE:-size unknown}) from $MIRROR into $CACHE;" \
		"this happens once"
	TMP=$(mktemp -d "$CACHE/.tmp.$NAME.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
	# as root, apt downloads as _apt: give it a directory it may write to
	chmod 0777 "$TMP"
	# apt's own progress: a live bar on a terminal, its Get:/Fetched lines elsewhere.
	if [[ -t 2 ]]; then
		(cd "$TMP" && apt-get download "$PKG=$VER" >&2) || die "downloading $PKG failed"
	else
		(cd "$TMP" && apt-get download "$PKG=$VER" 2>&1 | sed -u "s/^/$PROG: /" >&2) ||
			die "downloading $PKG failed"
	fi
	DEB=$(find "$TMP" -maxdepth 1 -name '*.deb' -print -quit)
	[[ -n $DEB ]] || die "apt-get download produced no .deb"
	chmod 0755 "$TMP"

	log "unpacking $(basename "$DEB") ($(du -h "$DEB" | cut -f1))"
	mkdir "$TMP/root"
	dpkg-deb -x "$DEB" "$TMP/root"
	rm -f "$DEB"
	# keep only what the tier needs: the image, its config and the modules
	rm -rf "$TMP/root/usr" "$TMP/root/etc"

	VMLINUZ=$(find "$TMP/root/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit)
	CONFIG=$(find "$TMP/root/boot" -maxdepth 1 -name 'config-*' -print -quit)
	[[ -n $VMLINUZ && -n $CONFIG ]] || die "$PKG has no /boot/vmlinuz-* or /boot/config-*"
	KVER=${VMLINUZ##*/vmlinuz-}
	[[ -d $TMP/root/lib/modules/$KVER ]] || die "$PKG has no /lib/modules/$KVER"

	log "kernel $KVER, relevant config:"
	grep -E '^(# )?CONFIG_(PVH|UDMABUF|DMABUF_HEAPS|DMABUF_HEAPS_SYSTEM|DRM_VGEM|SYNC_FILE|SW_SYNC|NET_9P|NET_9P_VIRTIO|9P_FS|VIRTIO_PCI|DEVTMPFS)[= ]' \
		"$CONFIG" | sed 's/^/  /' >&2 || true

	# qemu boots the bzImage too, but decompressing it under TCG costs seconds a run
	echo "root/boot/vmlinuz-$KVER" >"$TMP/boot-image"
	if ! grep -q '^CONFIG_PVH=y' "$CONFIG"; then
		log "CONFIG_PVH is not set: qemu will boot the bzImage (slower under TCG)"
	elif log "extracting ELF vmlinux for PVH boot" &&
		python3 "$HERE/extract-vmlinux.py" "$VMLINUZ" "$TMP/vmlinux" >&2; then
		echo vmlinux >"$TMP/boot-image"
	else
		log "warning: no vmlinux (is zstd installed?); qemu will boot the bzImage"
	fi
	echo "$KVER" >"$TMP/kver"
	echo "$PKG" >"$TMP/package"
	echo "$VER" >"$TMP/version"
	date -u +%Y-%m-%dT%H:%M:%SZ >"$TMP/COMPLETE"

	rm -rf "$DEST" # a stale incomplete directory (no COMPLETE stamp)
	mv -T "$TMP" "$DEST"
	trap - EXIT
fi

# switch `current` atomically
ln -sfn "$NAME" "$CACHE/.current.tmp"
mv -T "$CACHE/.current.tmp" "$CACHE/current"
log "cached kernel: $PKG $VER ($(du -sh "$DEST" | cut -f1))"
echo "$DEST"
