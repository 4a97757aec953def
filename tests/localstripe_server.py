"""localstripe, the Stripe emulator, as the tests run it: on loopback only, on the port given, and
keeping nothing on disk (the stock command listens on every interface and pickles its data to
/tmp/localstripe.pickle, which several test workers would share).

    python tests/localstripe_server.py PORT
"""

from __future__ import annotations

import socket
import sys

from aiohttp import web
from localstripe import resources
from localstripe.server import app


def accept_and_ignore(*names: str) -> None:
    """Let subscription updates carry parameters localstripe 1.15 does not know (it answers 500 to
    them), ignoring them: the engine always sends them, as Stripe wants. What they do in Stripe is
    tested at the SDK boundary and in the test-mode suite, never against the emulator."""
    update = resources.Subscription._update

    def _update(self: resources.Subscription, **data: object) -> object:
        for name in names:
            data.pop(name, None)
        return update(self, **data)

    resources.Subscription._update = _update  # type: ignore[method-assign]


def main() -> None:
    port = int(sys.argv[1])
    # Each worker's emulator starts empty and keeps its data in memory only.
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    accept_and_ignore("proration_behavior", "payment_behavior")
    # Stripe lists a customer's payment methods of every type when no `type` is given; localstripe
    # refuses a list without one. It knows cards only, so every type is its cards: accepted, not faked.
    list_all = resources.PaymentMethod._api_list_all.__func__  # type: ignore[attr-defined]
    resources.PaymentMethod._api_list_all = classmethod(  # type: ignore[method-assign]
        lambda cls, url, type="card", **kwargs: list_all(cls, url, type=type, **kwargs))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    web.run_app(app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
