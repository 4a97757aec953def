"""The yardstick for SPEC section 8: a bare Starlette JSON endpoint.

    python bench/bare.py --port 8001

One route, GET /, answering a small constant JSON object, served by uvicorn
with the same arguments as `python -m backend serve` (backend/server_options.py), so that
bench/load.py compares the backend's endpoints with what Starlette and uvicorn
alone cost on the same server.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backend.server_options import SERVER_OPTIONS


async def constant(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/", constant)])

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8001)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, **SERVER_OPTIONS)
