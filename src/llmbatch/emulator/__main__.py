"""`python -m llmbatch.emulator --port 8787`."""

from __future__ import annotations

import sys

from llmbatch.emulator._cli import main

if __name__ == "__main__":
    sys.exit(main())
