#!/usr/bin/env python3
"""Whether every NAME==VERSION pin is installed in this Python, by package metadata (no
import): exit 0 if so, else 1 with the missing ones on stderr, prefixed by LABEL.

    pins_installed.py LABEL NAME==VERSION...

Shared by scripts/setup-python.sh (the Keras oracle's venv) and scripts/compare.sh (the
peers' venv)."""
import sys
from importlib import metadata

label, pins = sys.argv[1], sys.argv[2:]
bad = []
for pin in pins:
    name, want = pin.split("==")
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have} (want {want})")
if bad:
    print(f"{label}: need " + ", ".join(bad), file=sys.stderr)
    sys.exit(1)
