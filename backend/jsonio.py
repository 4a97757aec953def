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
    # Level by level, each pass over one level's containers: a few passes for the bodies the API takes.
    level, depth = ([value] if isinstance(value, (list, dict)) else []), 0
    while level:
        if depth == max_depth:
            raise TooDeep(f"nested deeper than {max_depth} levels")
        depth += 1
        level = [
            child for container in level for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, (list, dict))
        ]
    return value


class JSONResponse(StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content)
