#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Sum the TAP results of every meson test log given, and print one closing line."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    with open(path) as log:
        for line in log:
            test = json.loads(line)
            tap = [l for l in test.get("stdout", "").splitlines()
                   if re.match(r"(not )?ok \d+", l)]
            if not tap:
                # A test that is not TAP counts once, by its meson result.
                result = test["result"]
                passed += result == "OK"
                skipped += result == "SKIP"
                failed += result not in ("OK", "SKIP")
                continue
            for l in tap:
                if l.startswith("not ok"):
                    failed += 1
                elif "# SKIP" in l:
                    skipped += 1
                else:
                    passed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
