"""Backend start-up: from `python -m backend serve` to the first answer.

    python bench/startup.py [--runs 5] [--database-url sqlite:///tmp/porch-1m.db]

In a temporary folder holding a SQLite database that is already migrated (the
usual restart) and, in one series, a public/ folder built from the sample
config.yaml, the script starts

    python -m backend serve --port <free port>

as a child process with PORCH_SECRET_KEY (48 random characters),
PORCH_DATABASE_URL and PORCH_CONFIG (the repository's config.yaml) set, and
times from the spawn until GET /api/health answers 200. The port is polled
every 5 ms, so a figure is at most 5 ms late. "Import to ready" is that time
minus the median start and exit of a bare `python -c pass`, which no Python
program can avoid. Once the server answers, its resident memory is read from
/proc/<pid>/status (VmRSS). The server is then stopped with SIGTERM.

A third series starts bench/bare.py, one Starlette route served by uvicorn
with the backend's options, and times it to its first answer the same way: the
yardstick the backend's start is divided by, since on a busy machine every
start is slower alike.

Each series starts with one run that is not counted, so the bytecode caches are
warm as on any restart after the first (they are written under the temporary
folder, PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE is set: an
installed Porch starts from the bytecode pip compiled); then --runs runs (5 by default), the
three series taking turns, of which the median and the maximum are printed as a
Markdown table for the README. The budgets are SPEC section 8's, 0.5 s import
to ready, and issue 15's, spawn to ready at most twice the bare Starlette
app's. The script exits with status 1 if the median of a series is over either
(the maximum is shown, not judged: a single slow run on a busy machine is
noise, not a regression).

With --database-url the server opens that store instead, as it is (say, a
million customers made by bench/generate.py), so that start time and memory
are measured against a store of that size; its first, uncounted start runs any
pending migration.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.config import load_config  # noqa: E402
from backend.pages import build_site  # noqa: E402
from backend.store.database import create_engine, migrate  # noqa: E402

BUDGET = 0.5  # seconds, import to ready
RATIO = 2.0  # spawn to ready, at most this many times a bare Starlette app's
POLL = 0.005  # seconds between two tries of GET /api/health
GIVE_UP = 30.0  # seconds; a server this slow has a problem the table cannot show


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int, path: str = "/api/health") -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def from_bytecode(env: dict[str, str], folder: Path) -> dict[str, str]:
    """`env` for servers that start from bytecode, as an installed Porch does (pip compiles it): a checkout run
    with PYTHONDONTWRITEBYTECODE would compile every module of the backend on each start instead, a sixth of
    it. The first (uncounted) start writes the caches under `folder`, outside the source tree."""
    return {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"} | {
        "PYTHONPYCACHEPREFIX": str(folder / "pycache")}


def bare_interpreter(runs: int) -> float:
    """Median seconds for `python -c pass` to start and exit."""
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # warm-up, not counted
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


BACKEND = ([sys.executable, "-m", "backend", "serve", "--port"], "/api/health")
# The yardstick: bench/bare.py, one Starlette route served by uvicorn with the backend's options.
BARE = ([sys.executable, str(ROOT / "bench" / "bare.py"), "--port"], "/")


def start_once(folder: Path, env: dict[str, str], server: tuple[list[str], str] = BACKEND) -> tuple[float, int]:
    """Seconds from spawn to the first 200 from the server's probe, and the server's VmRSS in KB then."""
    port = free_port()
    log = folder / "serve.log"
    argv, probe = server
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*argv, str(port)], cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            while not healthy(port, probe):
                if process.poll() is not None:
                    raise SystemExit(f"the server exited with status {process.returncode}:\n{log.read_text()}")
                if time.perf_counter() - started > GIVE_UP:
                    raise SystemExit(f"no answer from {probe} after {GIVE_UP:.0f} s:\n{log.read_text()}")
                time.sleep(POLL)
            elapsed = time.perf_counter() - started
            memory = resident_kb(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return elapsed, memory


def series(starts: list[tuple[Path, tuple[list[str], str]]], env: dict[str, str],
           runs: int) -> list[tuple[list[float], list[int]]]:
    """`runs` starts of each server in its folder, taken in turn so that a busy moment of the machine hits
    every series alike."""
    for folder, server in starts:
        start_once(folder, env, server)  # warm-up, not counted
    results: list[tuple[list[float], list[int]]] = [([], []) for _ in starts]
    for _ in range(runs):
        for (folder, server), (times, memory) in zip(starts, results, strict=True):
            elapsed, resident = start_once(folder, env, server)
            times.append(elapsed)
            memory.append(resident)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="counted runs per series (default: 5)")
    parser.add_argument("--database-url", help="an existing store to open, as it is (default: an empty SQLite file)")
    args = parser.parse_args()
    runs = args.runs

    with tempfile.TemporaryDirectory(prefix="porch-bench-") as tmp:
        database_url = args.database_url or f"sqlite:///{Path(tmp) / 'porch.db'}"
        if not args.database_url:
            engine = create_engine(database_url)
            migrate(engine)
            engine.dispose()
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PORCH_SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
            "PORCH_DATABASE_URL": database_url,
            "PORCH_CONFIG": str(ROOT / "config.yaml"),
            "PORCH_OUTBOX_DIR": str(Path(tmp) / "outbox"),
        }
        env = from_bytecode(env, Path(tmp))
        api_only = Path(tmp) / "api-only"
        with_site = Path(tmp) / "with-site"
        api_only.mkdir()
        with_site.mkdir()
        config, _ = load_config(ROOT / "config.yaml")
        build_site(config, ROOT, ROOT / "site", with_site / "public")

        bare = bare_interpreter(runs)
        labels = ["API and built site (`public/`)", "API only (no `public/`)"]
        *results, (starlette, _) = series([(with_site, BACKEND), (api_only, BACKEND), (api_only, BARE)], env, runs)
        named = list(zip(labels, results, strict=True))

    store = f" on {args.database_url.split('@')[-1]}" if args.database_url else ""
    yardstick = statistics.median(starlette)
    print(f"Backend start{store}, {runs} runs each; a bare `python -c pass` takes {bare * 1000:.0f} ms here, "
          f"and a bare Starlette app (bench/bare.py) {yardstick * 1000:.0f} ms from spawn to its first answer.")
    print()
    print(
        "| serving | spawn to ready, median / max | import to ready, median / max | ready / bare Starlette "
        "| resident memory, median | budget | result |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    failed = False
    for label, (times, memory) in named:
        median, worst = statistics.median(times), max(times)
        ratio = median / yardstick
        ok = median - bare <= BUDGET and ratio <= RATIO
        failed |= not ok
        print(
            f"| {label} | {median * 1000:.0f} / {worst * 1000:.0f} ms "
            f"| {(median - bare) * 1000:.0f} / {(worst - bare) * 1000:.0f} ms | {ratio:.1f} "
            f"| {statistics.median(memory) / 1024:.1f} MB | {BUDGET * 1000:.0f} ms, {RATIO:.0f}x "
            f"| {'pass' if ok else 'FAIL'} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
