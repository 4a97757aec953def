"""Serves the built site from public/ with the headers its `_headers` file names,
so the backend and a static host send the same cache and security headers."""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import Path

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def read_header_rules(path: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    """Parse a Netlify/Cloudflare Pages `_headers` file: a path pattern, then indented `Name: value` lines."""
    rules: list[tuple[str, list[tuple[str, str]]]] = []
    if not path.is_file():
        return rules
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            rules.append((line.strip(), []))
        elif rules and ":" in line:
            name, value = line.split(":", 1)
            rules[-1][1].append((name.strip(), value.strip()))
    return rules


def rule_regex(pattern: str) -> str:
    """A `_headers` path pattern as a regular expression that Python, Go (Caddy) and PCRE (nginx)
    read alike: `*` matches anything, `:name` one segment."""
    return "".join(
        ".*" if part == "*" else "[^/]+" if part.startswith(":") else re.escape(part)
        for part in re.split(r"(\*|:\w+)", pattern) if part
    )


def rule_matches(pattern: str, path: str) -> bool:
    """Whether a `_headers` path pattern matches a request path."""
    return re.fullmatch(rule_regex(pattern), path) is not None


def accepted_codings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header takes: case-insensitive, and `br;q=0` refuses br."""
    taken = set()
    for item in header.lower().split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = next((p.removeprefix("q=") for p in params if p.startswith("q=")), "1")
        try:
            if float(weight) > 0:
                taken.add(coding)
        except ValueError:
            continue
    return taken


class Site(StaticFiles):
    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True)
        self.rules = read_header_rules(directory / "_headers")

    async def get_response(self, path: str, scope: Scope) -> Response:
        # /api/ answers in JSON even for unknown paths; `_headers` and the like are not pages.
        if path.startswith("api/") or any(part.startswith("_") for part in Path(path).parts):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        for pattern, headers in self.rules:
            if rule_matches(pattern, scope["path"]):
                for name, value in headers:
                    response.headers[name] = value
        return response

    def file_response(
        self, full_path: "os.PathLike[str] | str", stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        accepted = accepted_codings(Headers(scope=scope).get("accept-encoding", ""))
        for encoding, suffix in ENCODINGS:
            compressed = str(full_path) + suffix
            if encoding in accepted and os.path.isfile(compressed):
                media_type = mimetypes.guess_type(str(full_path))[0] or "application/octet-stream"
                if media_type.startswith("text/") or media_type.endswith(("javascript", "json", "svg+xml")):
                    media_type += "; charset=utf-8"
                response: Response = FileResponse(
                    compressed, status_code=status_code, media_type=media_type, stat_result=os.stat(compressed),
                    headers={"Content-Encoding": encoding, "Vary": "Accept-Encoding"},
                )
                break
        else:
            response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
            response.headers["Vary"] = "Accept-Encoding"
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response
