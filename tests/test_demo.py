"""`python -m backend demo`, the README's first command, works from a clean folder."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


@contextmanager
def demo(tmp_path: Path, *options: str) -> Iterator[subprocess.Popen]:
    """`python -m backend demo` with `options`, in `tmp_path`, with no PORCH_ setting of this shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORCH_")} | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "demo", *options],
        cwd=tmp_path, env=env | {"PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_demo_builds_seeds_serves_and_mails_to_the_console(tmp_path):
    port = free_port()
    with demo(tmp_path, "--port", str(port)) as process:
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


def test_demo_listens_only_on_the_host_it_is_given_and_prints_an_address_that_opens(tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
            port = sock.getsockname()[1]
    except OSError as exc:
        pytest.skip(f"this machine has no IPv6 loopback: {exc}")
    with demo(tmp_path, "--host", "::1", "--port", str(port)) as process:
        url = read_until(process.stdout, r"Sign in at (\S+)").group(1)
        assert url == f"http://[::1]:{port}/login/?prefilled_email=jenny%40example.com"
        read_until(process.stdout, r"Uvicorn running")
        with urllib.request.urlopen(url) as page:
            assert b'id="email-form"' in page.read()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port)).close()
