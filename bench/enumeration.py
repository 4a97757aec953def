"""Enumeration by timing: can the request after a code request tell a known address from an unknown one?

    python bench/enumeration.py [--samples 200] [--gap 0.15] [--customers 1000]

The script starts the real backend, `python -m backend serve --port <free port>`, on a
temporary SQLite store of --customers customers made by bench/generate.py, with
PORCH_SMTP_URL naming a real SMTP server (aiosmtpd, in this process) and
PORCH_TRUSTED_PROXIES=127.0.0.1. It then asks for --samples codes for customers'
addresses (each a different customer) and as many for addresses no customer has, in a
random order, each from its own X-Forwarded-For so that no sending limit answers 429.
Right after each code request's answer it sends a probe, GET /api/health, on a second
kept-alive connection, and times it. The probe is what an attacker sees: whatever the
server does next for the address (find the customer, render and send the mail, write)
shows in it if it shares the server's time with it. Between samples it waits --gap
seconds, so each code request finds the server idle. Ten samples of each kind come
first and are not counted.

It prints the probe's median latency for each kind and the area under the ROC curve
(AUC, the Mann-Whitney U over both counts): the chance that the probe after a known
address is slower than the one after an unknown address. 0.5 is a coin toss; the
script also prints the interval in which 95% of AUCs of two samples of the same
latency fall, and exits with status 1 when the AUC is outside it. For the known
addresses it prints how long the mail took to reach the SMTP server, from the code
request being sent, median and maximum; a mail that never came is counted and fails
the run too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate import generate  # noqa: E402
from load import sample, serving  # noqa: E402
from startup import free_port  # noqa: E402

from backend.store.database import Database, create_engine  # noqa: E402
from backend.store.tables import customers  # noqa: E402

WARM_UP = 10  # samples of each kind, not counted
MAIL_WAIT = 30.0  # seconds after the last request that a mail may still come
CONFIG = 'business:\n  name: Enumeration test\nemail:\n  from: "Porch <billing@bench.example>"\n'


class Arrivals:
    """The SMTP server's handler: when each recipient's mail arrived (perf_counter seconds)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            for rcpt in envelope.rcpt_tos:
                self.at[rcpt.lower()] = time.perf_counter()
            self.changed.notify_all()
        return "250 OK"

    def wait_for(self, addresses: set[str], deadline: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: addresses <= set(self.at), max(0.0, deadline - time.perf_counter()))


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a positive > a negative), ties counted half: the Mann-Whitney U over both counts."""
    ranked = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2  # ranks i+1 .. j share their mean
        rank_sum += mean_rank * sum(kind for _, kind in ranked[i:j])
        i = j
    n1, n2 = len(positives), len(negatives)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n2)


def chance_interval(n1: int, n2: int) -> float:
    """Half the width of the 95% interval of the AUC around 0.5 when both samples come from one distribution."""
    return 1.96 * ((n1 + n2 + 1) / (12 * n1 * n2)) ** 0.5


def request(connection: http.client.HTTPConnection, method: str, path: str, **kwargs: Any) -> int:
    connection.request(method, path, **kwargs)
    response = connection.getresponse()
    response.read()
    return response.status


def run(args: argparse.Namespace, tmp: Path) -> int:
    url = f"sqlite:///{tmp / 'porch.db'}"
    engine = create_engine(url)
    generate(engine, customers=args.customers, seed=1)
    known = sample(Database(engine), customers.c.email_lower, args.samples + WARM_UP)
    engine.dispose()
    if len(known) < args.samples + WARM_UP:
        raise SystemExit(f"--customers {args.customers} has only {len(known)} addresses; give more")
    tag = secrets.token_hex(4)
    unknown = [f"nobody-{tag}-{n}@{address.split('@')[1]}" for n, address in enumerate(known)]
    order = [("known", a) for a in known[WARM_UP:]] + [("unknown", a) for a in unknown[WARM_UP:]]
    random.shuffle(order)
    order = [p for pair in zip(known[:WARM_UP], unknown[:WARM_UP], strict=True) for p in (("warm", pair[0]), ("warm", pair[1]))] + order

    arrivals = Arrivals()
    smtp_port = free_port()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    (tmp / "config.yaml").write_text(CONFIG)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PORCH_DATABASE_URL": url, "PORCH_SECRET_KEY": secrets.token_urlsafe(36), "PORCH_CONFIG": str(tmp / "config.yaml"),
        "PORCH_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "PORCH_TRUSTED_PROXIES": "127.0.0.1",
    }
    port = free_port()
    probes: dict[str, list[float]] = {"known": [], "unknown": [], "warm": []}
    asked: dict[str, float] = {}
    try:
        with serving([sys.executable, "-m", "backend", "serve", "--port", str(port)], env, tmp, port, "/api/health"):
            asking = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            probing = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for n, (kind, address) in enumerate(order):
                body = json.dumps({"email": address})
                headers = {"Content-Type": "application/json", "X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
                asked[address] = time.perf_counter()
                status = request(asking, "POST", "/api/login/code", body=body, headers=headers)
                started = time.perf_counter()
                probed = request(probing, "GET", "/api/health")
                probes[kind].append(time.perf_counter() - started)
                if status != 202 or probed != 200:
                    raise SystemExit(f"sample {n}: the code request answered {status}, the probe {probed}")
                time.sleep(args.gap)
            expected = set(known)
            arrivals.wait_for(expected, time.perf_counter() + MAIL_WAIT)
    finally:
        smtp.stop()

    delays = [arrivals.at[a] - asked[a] for a in known[WARM_UP:] if a in arrivals.at]
    missing = len(known) - len(set(known) & set(arrivals.at))
    strays = set(arrivals.at) & set(unknown)
    score = auc(probes["known"], probes["unknown"])
    margin = chance_interval(len(probes["known"]), len(probes["unknown"]))
    ms = {kind: statistics.median(values) * 1000 for kind, values in probes.items()}
    print(f"\n{args.samples} samples of each kind, {args.gap * 1000:.0f} ms apart, on {os.cpu_count()} cores:")
    print(f"probe after a known address:   median {ms['known']:.2f} ms")
    print(f"probe after an unknown address: median {ms['unknown']:.2f} ms")
    print(f"AUC {score:.3f} (chance: 0.5 +/- {margin:.3f} in 95% of runs)")
    if delays:
        print(f"mail reached SMTP in median {statistics.median(delays) * 1000:.0f} ms, at most {max(delays) * 1000:.0f} ms")
    if missing:
        print(f"{missing} of {len(known)} mails never came")
    if strays:
        print(f"{len(strays)} unknown addresses got mail")
    return 0 if abs(score - 0.5) <= margin and not missing and not strays else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=200, help="counted code requests of each kind (default: 200)")
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between samples (default: 0.15)")
    parser.add_argument("--customers", type=int, default=1000, help="customers in the store (default: 1000)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="porch-enumeration-") as folder:
        return run(args, Path(folder))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
