"""Invoice history (features.invoice_history)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from backend import auth, portal
from backend.errors import APIError
from backend.openapi import OBJECT, Operation, returns
from backend.store import billing


async def invoice(request: Request) -> Response:
    customer = await auth.signed_in(request)
    state = request.app.state
    if not state.config.features.invoice_history.enabled:
        raise APIError(403, "feature_disabled", "Invoice history is switched off.")
    found = await state.db.read(billing.owned, "invoices", customer, request.path_params["id"])
    if found is None:
        raise APIError(404, "not_found", "No such invoice.")
    return JSONResponse({"invoice": portal.pick("invoice", found)})


OPERATIONS = [
    Operation("get", "/api/invoices/{id}", invoice, "One of the customer's invoices", answer=returns(invoice=OBJECT),
              errors=(403, 404)),
]
