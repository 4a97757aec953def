"""bench/inprocess.py runs on a small store and prints its table: every kind of work measured, none
of it answered wrongly. Its figures are the README's to quote, not this test's to judge."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "inprocess.py"
ROWS = ["`GET /api/portal`", "`GET /api/portal`, Brotli", "`POST /api/login/code`", "mail job (the code requests')",
        "`POST /api/login/verify`", "constant JSON, through Porch's middleware, router and pipeline",
        "constant JSON, `bench/bare.py`'s app", "mail render (`signin_message`)"]


def test_the_script_measures_every_kind_on_a_small_store(tmp_path: Path) -> None:
    argv = [sys.executable, str(SCRIPT), "--customers", "200", "--requests", "20", "--rounds", "2"]
    done = subprocess.run(argv, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sqlite store of 200 customers; 2 rounds of 20 requests" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and " µs |" in line]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == ROWS
    for row in rows:
        # requests then errors: two rounds of 20 of each, none answered otherwise than expected
        assert re.search(r"\| 40 \| 0 \|$", row), row
