"""Load: the backend's API under wrk, beside a bare Starlette endpoint on the same server.

    python bench/load.py [--duration 10] [--connections 64] [--endpoints portal,verify,code]
                         [--customers 10000 | --database-url sqlite:///path] [--postgres-url postgresql://...]

For each store (SQLite, then PostgreSQL when --postgres-url is given) the script
starts the real backend, `python -m backend serve --port <free port>`, with its
settings in the environment as a merchant would set them (PORCH_DATABASE_URL,
PORCH_SECRET_KEY, PORCH_CONFIG naming a small config file, PORCH_OUTBOX_DIR,
PORCH_TRUSTED_PROXIES=127.0.0.1), drives each endpoint with
`wrk -t1 -c<connections> -d<duration>s --latency`, reads the server's resident
memory (VmRSS), stops it, and then does the same to bench/bare.py: one
Starlette route answering a constant JSON object, served by uvicorn with the
backend's own arguments. One server at a time is ever under load; each gets
two seconds of GET traffic first, not counted.

- portal: GET /api/portal with the session cookies of 1,000 customers picked
  at random from the store, taken in turn;
- verify: POST /api/login/verify, each request a fresh challenge and code,
  asked for beforehand with backend.signin.request_code, one for each of up to
  3,000 customer addresses per second of --duration, and read back from the
  sealed mail queue (the codes are then taken off the queue, as the mail
  worker would once it mailed them); should they run out, the codes used again
  are refused, and counted as errors; each from a new X-Forwarded-For, so that
  the per-address limits on verifying never answer 429;
- code: POST /api/login/code, each request for a new address that no customer
  has (the request does the same work either way, SPEC section 7) from a new
  X-Forwarded-For, so that the sending limits never answer 429;
- bare: GET / of bench/bare.py;
- floor: GET /api/portal of bench/floor.py, with the portal's sessions: the same
  customers' objects from one query and no framework, the least the portal's
  answer can cost on this server and store. The portal's row gives its
  throughput as a share of the floor's.

Then, per store, the backend and bench/bare.py are started in turn three times each and timed from spawn to
their first answer, as bench/startup.py does: the start's row is the ratio of the medians.

The SQLite store is --database-url as it is, or else a temporary file of
--customers customers made by bench/generate.py. The --postgres-url database is
filled the same way when it holds no customers; give it a database of its own.
wrk waits up to 30 s for an answer (its default, 2 s, would leave slow answers
out of the percentiles). The script prints a Markdown table for the README;
a row whose errors (non-2xx answers and socket errors) are most of its
requests is no figure at all. A second table sets each figure of the speed
budgets beside its budget, in bold where it misses it.
"""

from __future__ import annotations

import argparse
import contextlib
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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate import generate  # noqa: E402
from startup import BACKEND, BARE, GIVE_UP, POLL, free_port, from_bytecode, healthy, resident_kb, series  # noqa: E402

from backend import keys, sessions, signin  # noqa: E402
from backend.errors import APIError  # noqa: E402
from backend.store.database import Database, create_engine, migrate  # noqa: E402
from backend.store.tables import customers, mail_queue  # noqa: E402

ENDPOINTS = ("portal", "verify", "code")
SESSIONS = 1000
WARM_UP = 2  # seconds
# Above what verify (a write each) answers on a small machine: codes are prepared for this many a second.
VERIFY_RATE = 3000
# Codes prepared per transaction: on PostgreSQL each holds advisory locks until its transaction ends.
BATCH = 500
Row = dict[str, float]
LOG_LINES = 30
STARTS = 3  # starts of the backend and of the bare app per store, taken in turn
MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}  # wrk's latency units
CONFIG = "business:\n  name: Load test\n"
JSON = '["Content-Type"] = "application/json"'

PORTAL_LUA = """local tokens = {%s}
local n = 0
request = function()
  n = n %% #tokens + 1
  return wrk.format("GET", "/api/portal", {Cookie = "porch_session=" .. tokens[n]})
end
"""
VERIFY_LUA = """local bodies = {%s}
local n = 0
request = function()
  n = n %% #bodies + 1
  local address = string.format("10.%%d.%%d.%%d", math.floor(n / 65536) %% 256, math.floor(n / 256) %% 256, n %% 256)
  return wrk.format("POST", "/api/login/verify", {%s, ["X-Forwarded-For"] = address}, bodies[n])
end
"""
CODE_LUA = """local n = 0
request = function()
  n = n + 1
  local a = %d + n
  local address = string.format("10.%%d.%%d.%%d", math.floor(a / 65536) %% 256, math.floor(a / 256) %% 256, a %% 256)
  local body = string.format('{"email": "load-%s-%%d@example.com"}', n)
  return wrk.format("POST", "/api/login/code", {%s, ["X-Forwarded-For"] = address}, body)
end
"""


def lua_strings(values: list[str]) -> str:
    return ",".join(json.dumps(v) for v in values)  # ASCII only: a JSON string is a Lua string


def sample(db: Database, column: sa.Column, count: int) -> list[str]:
    query = (
        sa.select(column).where(column.is_not(None), column != "").group_by(column)
        .order_by(sa.func.random()).limit(count)
    )
    return list(db.run(lambda conn: conn.execute(query).scalars().all(), write=False))


def verify_bodies(db: Database, secret: bytes, emails: list[str], tag: str) -> list[str]:
    """Request bodies of fresh challenges and their codes, one per email."""

    def prepare(conn: sa.Connection, start: int) -> list[str]:
        now = int(time.time())
        before = conn.execute(sa.select(sa.func.max(mail_queue.c.id))).scalar() or 0
        challenges = {}
        for n, email in enumerate(emails[start:start + BATCH], start):
            with contextlib.suppress(APIError):  # an address that earlier runs on this store asked for too often
                challenges[email] = signin.request_code(conn, secret, email, f"load-{tag}-{n}", now)
        queued = mail_queue.c.id > before
        sealer = keys.sealer(secret)
        sealed = conn.execute(sa.select(mail_queue.c.sealed).where(queued)).scalars()
        mails = [json.loads(sealer.decrypt(s.encode())) for s in sealed]
        conn.execute(mail_queue.delete().where(queued))
        return [json.dumps({"challenge": challenges[mail["to"]], "code": mail["code"]}) for mail in mails]

    return [body for start in range(0, len(emails), BATCH) for body in db.run(prepare, start)]


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], folder: Path, port: int, ready: str) -> Iterator[int]:
    """Runs a server until the block ends; yields its pid once `ready` answers 200."""
    with (folder / f"server-{port}.log").open("wb") as log:
        server = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            started = time.monotonic()
            while not healthy(port, ready):
                if server.poll() is not None or time.monotonic() - started > GIVE_UP:
                    raise SystemExit(f"{shlex.join(argv)} did not start:\n{Path(log.name).read_text()}")
                time.sleep(POLL)
            yield server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            # Access lines are INFO; anything else is worth seeing before the log is gone. A traceback's
            # unindented lines (its heading and the exception) say enough, once each with a count.
            lines = Path(log.name).read_text().splitlines()
            unusual = Counter(line for line in lines if not line.startswith(("INFO:", "No public/", " ")))
            if unusual:
                print(f"{shlex.join(argv[1:])} logged:", file=sys.stderr)
                for line, count in unusual.most_common(LOG_LINES):
                    print(f"  {count:>6} x {line}", file=sys.stderr)


def wrk(url: str, script: Path | None, seconds: int, connections: int) -> Row:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    argv += ["-s", str(script), url] if script else [url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    latency = {p: float(v) * MS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)}
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),  # type: ignore[index]
        "p50": latency["50"], "p99": latency["99"],
        "requests": int(re.search(r"(\d+) requests in", output)[1]),  # type: ignore[index]
        "errors": (int(failed[1]) if failed else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
    }


def filled(label: str, url: str, count: int) -> tuple[Database, int]:
    """The store at `url`, migrated, and filled with `count` customers by bench/generate.py if it has none;
    with the number of customers it holds."""
    engine = create_engine(url)
    migrate(engine)
    db = Database(engine)
    found = db.run(lambda conn: conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar(), write=False)
    if not found:
        print(f"{label}: generating {count:,} customers ...", flush=True)
        found = generate(engine, customers=count, seed=1).counts["customers"]
    return db, found


def portal_sessions(db: Database, secret: bytes) -> list[str]:
    """Session tokens of up to SESSIONS customers picked at random."""
    now = int(time.time())
    picked = sample(db, customers.c.id, SESSIONS)
    # Each session with the address it would have proven, so the portal also lists the customers sharing it.
    proven = dict(db.run(lambda conn: conn.execute(
        sa.select(customers.c.id, customers.c.email_lower).where(customers.c.id.in_(picked))).all(), write=False))
    return db.run(lambda conn: [sessions.create(conn, secret, c, now, proven.get(c)) for c in picked])


def environment(url: str, secret: bytes, tmp: Path) -> dict[str, str]:
    """The backend's settings, as a merchant would set them: the store, the secret, tmp's config.yaml and outbox."""
    return {
        "PORCH_DATABASE_URL": url, "PORCH_SECRET_KEY": secret.decode(), "PORCH_CONFIG": str(tmp / "config.yaml"),
        "PORCH_OUTBOX_DIR": str(tmp / "outbox"), "PORCH_TRUSTED_PROXIES": "127.0.0.1",
    }


def scripts(label: str, url: str, args: argparse.Namespace, tmp: Path, secret: bytes) -> dict[str, Path]:
    """Fills the store if it is empty, and writes each endpoint's wrk script with what it needs from the store."""
    db, count = filled(label, url, args.customers)
    tag = secrets.token_hex(4)
    tokens = portal_sessions(db, secret)
    found = {endpoint: tmp / f"{endpoint}.lua" for endpoint in ENDPOINTS}
    found["portal"].write_text(PORTAL_LUA % lua_strings(tokens))
    found["code"].write_text(CODE_LUA % (secrets.randbelow(2**23), tag, JSON))
    if "verify" in args.endpoints:
        print(f"{label}: preparing sign-in codes ...", flush=True)
        bodies = verify_bodies(db, secret, sample(db, customers.c.email_lower, VERIFY_RATE * args.duration), tag)
        found["verify"].write_text(VERIFY_LUA % (lua_strings(bodies), JSON))
    db.close()
    print(f"{label}: {count:,} customers; running ...", flush=True)
    return found


@dataclass
class Result:
    label: str
    rows: list[tuple[str, Row]]  # the backend's row for each endpoint, then the floor's when the portal ran
    bare: Row
    memory: int  # the backend's resident memory in KB after its runs
    start: float  # the backend's start to its first answer, as a multiple of the bare app's, on this store

    def row(self, endpoint: str) -> Row | None:
        return dict(self.rows).get(endpoint)


def measure(label: str, url: str, args: argparse.Namespace, tmp: Path) -> Result:
    secret = secrets.token_urlsafe(36).encode()
    script = scripts(label, url, args, tmp, secret)
    env = from_bytecode({
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **environment(url, secret, tmp),
    }, tmp)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with serving([sys.executable, "-m", "backend", "serve", "--port", str(port)], env, tmp, port, "/api/health") as pid:
        wrk(base, script["portal"], WARM_UP, args.connections)
        # Verify before code: the mail worker is still dropping code's queued requests after its run.
        rows = [(e, wrk(base, script[e], args.duration, args.connections)) for e in ENDPOINTS if e in args.endpoints]
        memory = resident_kb(pid)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"
    with serving([sys.executable, str(ROOT / "bench" / "bare.py"), "--port", str(port)], env, tmp, port, "/"):
        wrk(base, None, WARM_UP, args.connections)
        bare = wrk(base, None, args.duration, args.connections)
    if "portal" in args.endpoints:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        with serving([sys.executable, str(ROOT / "bench" / "floor.py"), "--port", str(port)], env, tmp, port, "/api/health"):
            wrk(base, script["portal"], WARM_UP, args.connections)
            rows.append(("floor", wrk(base, script["portal"], args.duration, args.connections)))
    # bench/startup.py's measure, on this store: starts taken in turn with the bare app's, medians divided.
    backend_starts, bare_starts = (times for times, _ in series([(tmp, BACKEND), (tmp, BARE)], env, STARTS))
    return Result(label, rows, bare, memory, statistics.median(backend_starts) / statistics.median(bare_starts))


# The speed budgets, each a figure of one run: its name, how it is read off a store's result, at least or at
# most, and the budget on each store it is judged on.
Figure = Callable[[Result], "float | None"]


def _ratio(endpoint: str, of: str = "rate", to: str = "bare") -> Figure:
    def figure(result: Result) -> float | None:
        row, base = result.row(endpoint), result.bare if to == "bare" else result.row(to)
        return row[of] / base[of] if row and base else None
    return figure


TARGETS: list[tuple[str, Figure, str, dict[str, float]]] = [
    ("`GET /api/portal`: throughput / bare", _ratio("portal"), ">=", {"SQLite": 0.5, "PostgreSQL": 0.3}),
    ("`GET /api/portal`: throughput / floor", _ratio("portal", to="floor"), ">=", {"SQLite": 0.8}),
    ("`GET /api/portal`: p99 / bare's p99", _ratio("portal", of="p99"), "<=", {"SQLite": 3}),
    ("`POST /api/login/verify`: throughput / bare", _ratio("verify"), ">=", {"SQLite": 0.2}),
    ("`POST /api/login/code`: throughput / bare", _ratio("code"), ">=", {"SQLite": 0.2}),
    ("start to first answer / bare app's", lambda r: r.start, "<=", {"SQLite": 2}),
    ("resident memory after the runs, MB", lambda r: r.memory / 1024, "<=", {"SQLite": 80}),
]


def targets(results: list[Result]) -> str:
    """The budgets as a table: each store's figure, in bold where it misses that store's budget."""
    lines = ["| figure | " + " | ".join(r.label for r in results) + " | budget |",
             "| --- | " + "---: | " * len(results) + "--- |"]
    sign = {">=": "≥", "<=": "≤"}
    for name, figure, sense, budgets in TARGETS:
        cells = []
        for result in results:
            value, budget = figure(result), budgets.get(result.label)
            missed = budget is not None and value is not None and (value < budget if sense == ">=" else value > budget)
            text = "" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.2f}"
            cells.append(f"**{text}**" if missed else text)
        wanted = ", ".join(f"{sign[sense]} {budget:g} on {store}" for store, budget in budgets.items())
        lines.append(f"| {name} | {' | '.join(cells)} | {wanted} |")
    return "\n".join(lines)


def line(name: str, row: Row, bare: Row, floor: Row | None = None) -> str:
    ratios = "| | |" if row is bare else f"| {row['rate'] / bare['rate']:.2f} | {row['p99'] / bare['p99']:.1f} |"
    ratios += f" {row['rate'] / floor['rate']:.2f} |" if floor else " |"
    invalid = " (mostly errors: no figure)" if row["errors"] * 2 > row["requests"] else ""
    return (f"| {name} | {row['rate']:,.0f} | {row['p50']:.1f} ms | {row['p99']:.1f} ms {ratios} "
            f"{row['requests']:,.0f} | {row['errors']:,.0f}{invalid} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint (default: 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default: 64)")
    parser.add_argument("--database-url", help="an existing SQLite store, used as it is (default: a temporary one)")
    parser.add_argument("--customers", type=int, default=10_000, help="customers in a new store (default: 10000)")
    parser.add_argument("--postgres-url", help="a PostgreSQL database to measure too; filled when it has no customers")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="comma-separated subset of: " + ", ".join(ENDPOINTS))
    args = parser.parse_args()
    args.endpoints = args.endpoints.split(",")
    if not set(args.endpoints) <= set(ENDPOINTS):
        parser.error(f"--endpoints takes {', '.join(ENDPOINTS)}")
    # A plain kill must still stop the servers and remove the temporary folder.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("$ python " + re.sub(r"://([^:/@]+):[^@/]+@", r"://\1:***@", shlex.join(sys.argv)), flush=True)

    with tempfile.TemporaryDirectory(prefix="porch-load-") as folder:
        tmp = Path(folder)
        (tmp / "config.yaml").write_text(CONFIG)
        stores = [("SQLite", args.database_url or f"sqlite:///{tmp / 'porch.db'}")]
        stores += [("PostgreSQL", args.postgres_url)] if args.postgres_url else []
        results = [measure(label, url, args, tmp) for label, url in stores]
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s on {os.cpu_count()} cores; backend resident memory "
          "after its runs: " + ", ".join(f"{r.label} {r.memory / 1024:.0f} MB" for r in results) + ".\n")
    print("| store | endpoint | requests/s | p50 | p99 | throughput / bare | p99 / bare | throughput / floor "
          "| requests | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for result in results:
        label, bare, floor = result.label, result.bare, result.row("floor")
        for endpoint, row in result.rows:
            print(line(f"{label} | `{endpoint}`", row, bare, floor if endpoint == "portal" else None))
        print(line(f"{label} | bare", bare, bare))
    print()
    print(targets(results))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers are stopped and the folder removed by then
        sys.exit(130)
