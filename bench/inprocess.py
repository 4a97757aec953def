"""In-process: the backend's CPU per request, called as ASGI with no server and no sockets in between.

    python bench/inprocess.py [--requests 2000] [--rounds 3] [--callgrind]
                              [--customers 10000 | --database-url sqlite:///path]

The script builds the real app as `python -m backend serve` does (backend.app.create_app, its settings
read from the environment bench/load.py gives the server: PORCH_DATABASE_URL, PORCH_SECRET_KEY,
PORCH_CONFIG naming a small config file, PORCH_OUTBOX_DIR, PORCH_TRUSTED_PROXIES=127.0.0.1) over
--database-url as it is, or else a temporary SQLite file of --customers customers made by
bench/generate.py (a store with no customers is filled the same way). It calls the app as uvicorn
would, one request at a time on one event loop, with the requests bench/load.py has wrk send:

- portal: GET /api/portal with the session cookies of 1,000 customers picked at random, in turn;
- portal, Brotli: the same with `Accept-Encoding: br`, as a browser sends it (wrk sends none);
- code: POST /api/login/code, each for a new address no customer has, from a new X-Forwarded-For;
- verify: POST /api/login/verify, each with a fresh challenge and code prepared beforehand as
  bench/load.py prepares them (backend.signin.request_code), from a new X-Forwarded-For;
- constant: a GET answering a constant JSON object, added to the app's routes (first, the router's
  shortest walk) as an endpoint of the API's own pipeline: the least any API answer pays for the
  middleware (backend/front.py), the router and the pipeline;
- bare: bench/bare.py's Starlette app, one route and no middleware: what Starlette alone costs;

and, through plain functions, the mail worker's work:

- mail render: backend.mailer.signin_message, a code mail built;
- mail job: the mail worker's passes (MailWorker.process_due) over the jobs the round's code
  requests queued: claimed, opened, their address looked up, their mail rendered, and recorded as
  dropped (no customer has those addresses, so nothing is delivered; SPEC section 7: the same work
  either way but the delivery).

Each round runs every kind in turn, --requests of each (verify: as many as fresh codes allow),
after a warm-up round of a tenth of that, not counted. Time is CPU (time.process_time(), every
thread of the process, so the writes' worker threads count) and wall (time.perf_counter()) per
request; the script prints, as a Markdown table for the README, the median over the rounds and the
range of the rounds' CPU, with the load average before and after (the machine's other work shows
in wall time more than CPU time, but shows in both). Any answer other than the one expected is
counted as an error; a row of mostly errors is no figure.

--callgrind counts instructions instead, which the machine's other work does not change: the script
makes the store, then runs itself once more under `valgrind --tool=callgrind`, one round after the
warm-up (about a hundred times slower: --requests 200 is plenty), and calls os.getppid() after the
warm-up and after each kind, so that callgrind's --dump-before=getppid writes the counts since the
last call to a file of their own; it prints the instructions a request of each kind: every thread's,
in user space only (the kernel's part, such as a commit's writes to disk, is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bare import app as bare_app  # noqa: E402
from load import CONFIG, environment, filled, portal_sessions, sample, verify_bodies  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.types import ASGIApp, Message  # noqa: E402

from backend import mailer, sessions  # noqa: E402
from backend.app import create_app  # noqa: E402
from backend.config import load_config  # noqa: E402
from backend.jsonio import JSONResponse  # noqa: E402
from backend.pipeline import Edge, Endpoint  # noqa: E402
from backend.settings import Settings  # noqa: E402
from backend.store.database import Database  # noqa: E402
from backend.store.tables import customers  # noqa: E402

CONSTANT = "/api/inprocess-constant"
Request = tuple[str, str, list[tuple[bytes, bytes]], bytes]  # method, path, headers, body


async def constant(edge: Edge) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def address(n: int) -> str:
    """The n-th client address behind the proxy: a new one each request, so no per-address limit answers 429."""
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


async def call(app: ASGIApp, request: Request) -> int:
    """One request, as uvicorn hands it to the app; the answer's status."""
    method, path, headers, body = request
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    answered = asyncio.Event()
    status = 0
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if asked:  # only a listener for the client going away asks again: it goes once the answer is out
            await answered.wait()
            return {"type": "http.disconnect"}
        asked = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif not message.get("more_body", False):
            answered.set()

    await app(scope, receive, send)
    return status


@dataclass
class Kind:
    """One row: `run(count)` does `count` of its work and returns how many went wrong."""

    name: str
    run: Callable[[int], Awaitable[int]]
    count: int
    cpu: list[float] = field(default_factory=list)  # µs a request, one a round
    wall: list[float] = field(default_factory=list)
    done: int = 0
    errors: int = 0


def requests(app: ASGIApp, make: Callable[[int], Request], expected: int) -> Callable[[int], Awaitable[int]]:
    """Runs the next `count` requests `make` makes (numbered on across rounds), counting other answers."""
    made = 0

    async def run(count: int) -> int:
        nonlocal made
        wrong = 0
        for n in range(made, made + count):
            wrong += await call(app, make(n)) != expected
        made += count
        return wrong

    return run


async def measure(kinds: list[Kind], rounds: int, mark: Callable[[], object]) -> None:
    """`mark` is called after the warm-up and after each kind."""
    for kind in kinds:  # warm-up: statements compiled, caches filled, modules loaded
        await kind.run(max(1, kind.count // 10))
    mark()
    for _ in range(rounds):
        for kind in kinds:
            cpu, wall = time.process_time(), time.perf_counter()
            kind.errors += await kind.run(kind.count)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            mark()
            kind.done += kind.count
            kind.cpu.append(cpu / kind.count * 1e6)
            kind.wall.append(wall / kind.count * 1e6)


def kinds(app: Starlette, db: Database, secret: bytes, count: int, rounds: int) -> list[Kind]:
    """Each row's work, with what it needs from the store prepared: sessions, and fresh codes for the verifies."""
    # New addresses and client addresses from a random start, so that runs on the same store stay clear of
    # each other's limits; a code request and a verify may share one, as their limits are counted apart.
    tag, start = secrets.token_hex(4), secrets.randbelow(2**23)
    cookie = sessions.cookie_name(False).encode()
    tokens = [cookie + b"=" + token.encode() for token in portal_sessions(db, secret)]
    emails = sample(db, customers.c.email_lower, count * rounds + max(1, count // 10))
    bodies = [body.encode() for body in verify_bodies(db, secret, emails, tag)]
    # As many verifies a round as there are fresh codes for, the warm-up's tenth included.
    verifies = max(1, min(count, len(bodies) * 10 // (10 * rounds + 1)))
    posted = [(b"content-type", b"application/json")]

    def post(path: str, n: int, body: bytes) -> Request:
        headers = [*posted, (b"content-length", str(len(body)).encode()), (b"x-forwarded-for", address(n).encode())]
        return "POST", path, headers, body

    def portal(n: int) -> Request:
        return "GET", "/api/portal", [(b"cookie", tokens[n % len(tokens)])], b""

    def portal_br(n: int) -> Request:
        return "GET", "/api/portal", [(b"cookie", tokens[n % len(tokens)]), (b"accept-encoding", b"br")], b""

    def code(n: int) -> Request:
        return post("/api/login/code", start + n, json.dumps({"email": f"inproc-{tag}-{n}@example.com"}).encode())

    def verify(n: int) -> Request:
        return post("/api/login/verify", start + n, bodies[n])

    config = app.state.config
    worker = app.state.mail_worker

    async def render(count: int) -> int:
        for n in range(count):
            mailer.signin_message(config, f"inproc-{n}@example.com", f"{n % 1_000_000:06d}", config.locales.default)
        return 0

    async def jobs(count: int) -> int:
        """Every due job, which are the code requests' of this round: `count` of them, or the difference is errors."""
        handled = 0
        while found := await worker.process_due():
            handled += found
        return abs(count - handled)

    return [
        Kind("`GET /api/portal`", requests(app, portal, 200), count),
        Kind("`GET /api/portal`, Brotli", requests(app, portal_br, 200), count),
        Kind("`POST /api/login/code`", requests(app, code, 202), count),
        Kind("mail job (the code requests')", jobs, count),
        Kind("`POST /api/login/verify`", requests(app, verify, 200), verifies),
        Kind("constant JSON, through Porch's middleware, router and pipeline", requests(
            app, lambda n: ("GET", CONSTANT, [], b""), 200), count),
        Kind("constant JSON, `bench/bare.py`'s app", requests(bare_app, lambda n: ("GET", "/", [], b""), 200), count),
        Kind("mail render (`signin_message`)", render, count),
    ]


def line(kind: Kind) -> str:
    invalid = " (mostly errors: no figure)" if kind.errors * 2 > kind.done else ""
    return (f"| {kind.name} | {statistics.median(kind.cpu):,.0f} µs | {statistics.median(kind.wall):,.0f} µs "
            f"| {min(kind.cpu):,.0f}–{max(kind.cpu):,.0f} µs | {kind.done:,} | {kind.errors:,}{invalid} |")


def callgrind(args: argparse.Namespace, tmp: Path, url: str, count: int) -> None:
    """Runs this script under callgrind on the store at `url` and prints the instructions a request of each kind."""
    out, marks = tmp / "callgrind.out", tmp / "kinds.json"
    argv = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}",
            sys.executable, __file__, "--database-url", url, "--requests", str(args.requests), "--marks", str(marks)]
    print("running under callgrind ...", flush=True)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{shlex.join(argv)} failed:\n{done.stdout}{done.stderr}")
    measured = json.loads(marks.read_text())
    # One file a call to getppid: the warm-up's (1), then each kind's, in turn.
    dumps = sorted(tmp.glob("callgrind.out.*"), key=lambda path: int(path.suffix[1:]))
    if len(dumps) != len(measured) + 1:
        raise SystemExit(f"callgrind wrote {len(dumps)} dumps for {len(measured)} kinds: something else called getppid")
    print(f"\n{url.split(':', 1)[0]} store of {count:,} customers; {args.requests:,} requests of each kind under "
          f"callgrind after a warm-up.\n")
    print("| work | instructions a request | requests | errors |")
    print("| --- | ---: | ---: | ---: |")
    for (name, requests, errors), dump in zip(measured, dumps[1:], strict=True):
        instructions = int(re.search(r"^totals: (\d+)", dump.read_text(), re.M)[1])  # type: ignore[index]
        print(f"| {name} | {instructions / requests:,.0f} | {requests:,} | {errors:,} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests of each kind a round (default: 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every kind (default: 3)")
    parser.add_argument("--database-url", help="an existing store, used as it is (default: a temporary SQLite one)")
    parser.add_argument("--customers", type=int, default=10_000, help="customers in a new store (default: 10000)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions under valgrind instead of timing")
    # Under callgrind: one round, os.getppid() between kinds, and the kinds' names and counts to this file.
    parser.add_argument("--marks", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.requests < 1 or args.rounds < 1:
        parser.error("--requests and --rounds take a positive number")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the temporary folder is removed all the same
    print("$ python " + re.sub(r"://([^:/@]+):[^@/]+@", r"://\1:***@", shlex.join(sys.argv)), flush=True)

    with tempfile.TemporaryDirectory(prefix="porch-inprocess-") as folder:
        tmp = Path(folder)
        (tmp / "config.yaml").write_text(CONFIG)
        url = args.database_url or f"sqlite:///{tmp / 'porch.db'}"
        secret = secrets.token_urlsafe(36).encode()
        db, count = filled("store", url, args.customers)
        if args.callgrind:
            db.close()
            callgrind(args, tmp, url, count)
            return 0
        settings = Settings.from_env({**os.environ, **environment(url, secret, tmp)})
        config, _ = load_config(settings.config_path)
        # Its lifespan never runs: no mail worker or housekeeping on the loop but what is measured.
        app = create_app(settings, config)
        app.router.routes.insert(0, Endpoint("get", CONSTANT, "A constant answer", constant, auth="none").operation().route())
        try:
            print(f"store: {count:,} customers; preparing sign-in codes ...", flush=True)
            measured = kinds(app, db, secret, args.requests, args.rounds)
            before = os.getloadavg()[0]
            print("running ...", flush=True)
            asyncio.run(measure(measured, 1, os.getppid) if args.marks else measure(measured, args.rounds, lambda: None))
            after = os.getloadavg()[0]
        finally:
            app.state.db.close()
            db.close()
    if args.marks:
        args.marks.write_text(json.dumps([(kind.name, kind.done, kind.errors) for kind in measured]))
        return 0
    print(f"\n{db.engine.dialect.name} store of {count:,} customers; {args.rounds} rounds of {args.requests:,} "
          f"requests of each kind on {os.cpu_count()} cores; load average {before:.1f} before, {after:.1f} after.\n")
    print("| work | CPU a request | wall a request | rounds' CPU | requests | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for kind in measured:
        print(line(kind))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the folder is removed by then
        sys.exit(130)
