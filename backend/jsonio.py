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


class TooDeep(ValueError):
    """JSON nested deeper than its reader allows."""


def from_client(body: bytes, max_depth: int) -> Any:
    """A client's JSON, strictly: no NaN, Infinity or lone surrogates, and lists and objects nested at most
    `max_depth` deep. orjson stops at 1024 levels without growing Python's stack; Python's json would recurse
    until it overflows. Raises ValueError: TooDeep for nesting."""
    value = orjson.loads(body)
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth >= max_depth:
                raise TooDeep(f"nested deeper than {max_depth} levels")
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
