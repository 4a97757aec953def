"""Real backend processes for tests of what only several processes, or a killed one, can show.

Each process is `python -m backend serve` on its own port, with settings from the
environment exactly as a merchant would run it, on the test's store.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from helpers import ROOT, SECRET

START_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path, name: str,
                       headers: dict[str, str] | None = None, timeout: float = START_TIMEOUT) -> None:
    """Returns once GET `url` answers 200; raises with the process's log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer {url} within {timeout} s:\n{log.read_text()}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if that has not ended it within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class Backend:
    """One `python -m backend serve` process; a context manager that stops it on exit."""

    def __init__(self, folder: Path, database_url: str, config: str = "", **env: str):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.yaml").write_text(config)
        self.environ = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PORCH_")},
            "PORCH_CONFIG": str(folder / "config.yaml"),
            "PORCH_DATABASE_URL": database_url,
            "PORCH_SECRET_KEY": SECRET.decode(),
            "PORCH_OUTBOX_DIR": str(folder / "outbox"),
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.log = folder / f"backend-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Backend:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "backend", "serve", "--port", str(self.port)],
                cwd=self.folder, env=self.environ, stdout=log, stderr=subprocess.STDOUT,
            )
        # Readiness is the health check answering: the process has migrated, bound and started its workers.
        try:
            wait_until_healthy(self.process, self.url + "/api/health", self.log, "the backend")
        except RuntimeError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finished transactions, as when a machine loses power."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=15, **kwargs)

    def __enter__(self) -> Backend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mailed_codes(outbox: Path, to: str) -> list[str]:
    """The codes mailed to `to` through the outbox folder, oldest first."""
    codes = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == to:
            codes.append(re.search(r"\b(\d{6})\b", str(message["Subject"])).group(1))  # type: ignore[union-attr]
    return codes


def wait_for_code(outbox: Path, to: str, count: int = 1, timeout: float = 15) -> str:
    """The newest code once `count` codes have reached `to`; the mail worker runs on its own."""
    deadline = time.monotonic() + timeout
    while True:
        codes = mailed_codes(outbox, to)
        if len(codes) >= count:
            return codes[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no code #{count} for {to} within {timeout} s in {outbox}")
        time.sleep(0.05)
