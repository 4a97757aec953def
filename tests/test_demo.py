"""`python -m backend demo`, the README's first command, works from a clean folder."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(stream, pattern: str) -> re.Match:
    seen = []
    for line in stream:
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError("demo ended before printing " + pattern + ":\n" + "".join(seen))


def test_demo_builds_seeds_serves_and_mails_to_the_console(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORCH_")} | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "demo", "--port", str(port)],
        cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = read_until(process.stdout, r"Sign in at (\S+)").group(1)
        assert url == f"http://127.0.0.1:{port}/login/?prefilled_email=jenny%40example.com"
        read_until(process.stdout, r"Uvicorn running")
        with urllib.request.urlopen(url) as page:
            assert b'id="email-form"' in page.read()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/login/code", data=json.dumps({"email": "jenny@example.com"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 202
        mail = read_until(process.stdout, r"--- mail to jenny@example.com \((\S+)\)")
        assert Path(mail.group(1)).is_file() or (tmp_path / mail.group(1)).is_file()
        assert (tmp_path / ".porch" / "demo.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
