#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# extract-guide.sh GUIDE OUT_DIR - the code of doc/integration.md, as CI builds it.
#
# Writes OUT_DIR/dmab-tinywl.c: the blocks fenced ```c dmab-tinywl.c, joined by one empty
# line (the guide's walkthrough of clients/example-compositor/dmab-tinywl.c, which must
# give that file byte for byte); and OUT_DIR/guide-block-NN.c for each plain ```c block,
# a translation unit of its own.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 GUIDE OUT_DIR" >&2; exit 2; }
rm -f "$2"/dmab-tinywl.c "$2"/guide-block-*.c
awk -v out="$2" '
	/^```c dmab-tinywl\.c$/ {
		file = out "/dmab-tinywl.c"
		if (pieces++ > 0)
			print "" > file
		next
	}
	/^```c$/ { file = sprintf("%s/guide-block-%02d.c", out, ++blocks); next }
	/^```/ { file = ""; next }
	file != "" { print > file }
' "$1"
