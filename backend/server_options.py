"""How uvicorn serves Porch, in a module of its own: bench/bare.py serves its yardstick app the same
way, and importing it must not load the backend, or the yardstick's start would include Porch's."""

from __future__ import annotations

from typing import Any

# Shared with bench/bare.py, so that the load benchmark compares like with like.
SERVER_OPTIONS: dict[str, Any] = {
    # Proxy headers are read by the app itself, only from PORCH_TRUSTED_PROXIES;
    # uvicorn's own handling would trust 127.0.0.1 by default.
    "proxy_headers": False,
    "server_header": False,
    "log_level": "info",
    # A line per request cost 7% of the portal's throughput; the load balancer or CDN
    # in front logs requests, and Porch logs what goes wrong.
    "access_log": False,
}
