"""Build the static site: config.yaml + site/ -> public/.

    python build.py [--config PATH] [--out DIR] [--strict]

Run as a script; never installed. The command is backend.build_cli's, which an installed
Porch runs as `porch build`; this file only puts the checkout's backend within reach.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backend.build_cli import build

if __name__ == "__main__":
    build()
