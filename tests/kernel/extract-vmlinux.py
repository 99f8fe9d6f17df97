#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""extract-vmlinux.py BZIMAGE OUT: write the ELF vmlinux embedded in an x86 bzImage.

qemu can boot an ELF vmlinux directly through its PVH entry point (kernel built
with CONFIG_PVH=y). Under TCG that skips the in-guest decompression of the
bzImage, which takes seconds of emulated CPU time.

The x86 boot protocol (>= 2.08) records where the compressed payload lives:
payload_offset (u32 at 0x248) and payload_length (u32 at 0x24c), relative to
the start of the protected-mode code, which follows the (setup_sects + 1)
512-byte sectors of real-mode setup code (setup_sects: u8 at 0x1f1). If the
header does not look right we fall back to scanning for compression magics.
"""
import bz2
import lzma
import shutil
import struct
import subprocess
import sys
import zlib

MAGICS = (
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x5d\x00\x00", "lzma"),
    (b"BZh", "bzip2"),
    (b"\x02\x21\x4c\x18", "lz4"),
)


def decompress(blob, how):
    """Decompress one stream, ignoring trailing bytes (the kernel appends the size)."""
    if how == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)
    if how == "xz":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)
    if how == "lzma":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(blob)
    if how == "bzip2":
        return bz2.BZ2Decompressor().decompress(blob)
    tool = {"zstd": ["zstd", "-dcq"], "lz4": ["lz4", "-dcq"]}[how]
    if not shutil.which(tool[0]):
        raise RuntimeError(f"{how} payload needs the '{tool[0]}' program")
    # zstd/lz4 reject trailing garbage: try the exact stream, then without the size suffix
    for cut in (0, 4):
        res = subprocess.run(tool, input=blob[: len(blob) - cut], capture_output=True)
        if res.stdout[:4] == b"\x7fELF":
            return res.stdout
    raise RuntimeError(f"{tool[0]} failed: {res.stderr.decode(errors='replace').strip()}")


def from_header(data):
    """Yield (offset, length) of the payload described by the boot header."""
    if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
        return
    version = struct.unpack_from("<H", data, 0x206)[0]
    if version < 0x208:
        return
    setup_sects = data[0x1F1] or 4
    off, length = struct.unpack_from("<II", data, 0x248)
    start = (setup_sects + 1) * 512 + off
    if 0 < length and start + length <= len(data):
        yield start, length


def candidates(data):
    yield from from_header(data)
    for magic, _ in MAGICS:  # fallback: every occurrence of every magic
        pos = data.find(magic)
        while pos >= 0:
            yield pos, len(data) - pos
            pos = data.find(magic, pos + 1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[0])
    src, out = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        data = f.read()
    errors = []
    for start, length in candidates(data):
        blob = data[start : start + length]
        for magic, how in MAGICS:
            if not blob.startswith(magic):
                continue
            try:
                elf = decompress(blob, how)
            except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError, RuntimeError) as e:
                errors.append(f"{how}@{start}: {e}")
                continue
            if elf[:4] == b"\x7fELF":
                tmp = out + ".tmp"
                with open(tmp, "wb") as f:
                    f.write(elf)
                shutil.move(tmp, out)
                print(f"{src}: {how} payload at {start}, vmlinux {len(elf)} bytes -> {out}")
                return
    sys.exit(f"{src}: no ELF payload found" + ("".join(f"\n  {e}" for e in errors[:5])))


if __name__ == "__main__":
    main()
