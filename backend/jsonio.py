"""JSON in and out of the store and the API, with orjson: the portal's hot path spends
a large share of its time parsing stored objects and writing the answer."""

from __future__ import annotations

import json
from typing import Any

import orjson
from starlette.responses import JSONResponse as StarletteJSONResponse


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # Python's json reads and writes NaN and Infinity, so an imported object may hold them.
        return json.loads(text)


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers beyond 64 bits, which an imported object may hold; json does not.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
