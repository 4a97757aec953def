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


def prices_as_plans() -> None:
    """Let subscription items name their price as `price`, as the engine sends them: localstripe 1.15
    reads only the older name, `plan`, and leaves `price` unread, so that a plan change would keep the
    old plan and a preview would be refused. A price's id is its plan's (Stripe itself takes a plan's id
    wherever a price's is asked), so each item's `price` is given to localstripe as its `plan`."""

    def as_plans(items: object) -> object:
        if not isinstance(items, list):
            return items
        return [{("plan" if key == "price" else key): value for key, value in item.items()}
                if isinstance(item, dict) else item for item in items]

    update = resources.Subscription._update

    def _update(self: resources.Subscription, items: object = None, **data: object) -> object:
        return update(self, items=as_plans(items), **data)

    # Previews reach it through this (its route holds the preview function itself, not its name).
    next_invoice = resources.Invoice._get_next_invoice.__func__  # type: ignore[attr-defined]

    def _next_invoice(cls: type, subscription_items: object = None, **data: object) -> object:
        return next_invoice(cls, subscription_items=as_plans(subscription_items), **data)

    resources.Subscription._update = _update  # type: ignore[method-assign]
    resources.Invoice._get_next_invoice = classmethod(_next_invoice)  # type: ignore[method-assign,assignment]


def main() -> None:
    port = int(sys.argv[1])
    # Each worker's emulator starts empty and keeps its data in memory only.
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    # cancellation_details: the reason a customer gave for cancelling at the period's end.
    accept_and_ignore("proration_behavior", "payment_behavior", "cancellation_details")
    prices_as_plans()
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
