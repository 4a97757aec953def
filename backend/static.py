"""Serves the built site from public/ with the headers its `_headers` file names,
so the backend and a static host send the same cache and security headers.

A file is served only at one spelling of its path, the one its rule names:
`//portal/`, `/de//portal/`, `/./portal/` or `/login` are redirected there
(with a relative Location that keeps the query), since a file server reads past
such spellings but rules do not, and the page would go out without its
Content-Security-Policy."""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from pathlib import Path
from urllib.parse import quote

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from backend.guards import API_HEADERS, API_PREFIXES

ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
# What the site answers that is not a file (404s, 405s, redirects) gets the API's strict set:
# nothing to store, sniff, frame or run.
# Named as `_headers` names them: a server config that removes a page's headers by name must meet these.
NOT_A_PAGE = {name.decode().title(): value.decode() for name, value in API_HEADERS}


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


def canonical_path(path: str) -> str | None:
    """The spelling of a request path that `_headers` rules are written for: no empty, `.` or `..` segments.
    None for a path with a backslash, which browsers read as a slash: it names no file, and a Location
    holding one could send a browser to another host."""
    if "\\" in path:
        return None
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    folder = path.endswith(("/", "/.", "/..")) and segments
    return "/" + "/".join(segments) + ("/" if folder else "")


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
    """public/ as the build wrote it. What it serves is what `_headers` covers, with those headers; `_` files and
    precompressed copies are not served by their own names (a copy goes out only as an encoding of its file)."""

    def __init__(self, directory: Path):
        super().__init__(directory=directory, html=True)
        self.rules = read_header_rules(directory / "_headers")

    async def get_response(self, path: str, scope: Scope) -> Response:
        requested = scope["path"]
        # /api/ and /v1/ answer in JSON even for unknown paths.
        if requested.startswith(API_PREFIXES):
            raise HTTPException(status_code=404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        canonical = canonical_path(requested)
        found = await anyio.to_thread.run_sync(self._find, canonical) if canonical else None
        headers = self.headers_for(found[2]) if found else None
        if found is None or headers is None:
            raise HTTPException(status_code=404)
        full_path, stat_result, served_at = found
        if served_at != requested:
            # Relative, never built from the Host header; the canonical path starts with one slash, never two.
            location = quote(served_at) + ("?" + scope["query_string"].decode("latin-1") if scope["query_string"] else "")
            return Response(status_code=308, headers={"Location": location, **NOT_A_PAGE})
        response = self.file_response(full_path, stat_result, scope)
        for name, value in headers:
            response.headers[name] = value
        return response

    def _find(self, path: str) -> tuple[str, os.stat_result, str] | None:
        """The file a canonical path names, and the path spelled as the file is served: a folder's index.html
        with a trailing slash, a file without."""
        try:
            full_path, stat_result = self.lookup_path(path.strip("/"))
            if stat_result is not None and stat.S_ISDIR(stat_result.st_mode):
                full_path, stat_result = self.lookup_path(os.path.join(path.strip("/"), "index.html"))
                path = path.rstrip("/") + "/"
            else:
                path = path.rstrip("/")
        except (OSError, ValueError):
            return None  # a name too long for the file system, or a NUL in it
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            return None
        return full_path, stat_result, path

    def headers_for(self, path: str) -> list[tuple[str, str]] | None:
        """The headers of every `_headers` rule that covers a served path; None if the site does not serve it."""
        if path.endswith(tuple(suffix for _, suffix in ENCODINGS)) or any(p.startswith("_") for p in path.split("/")):
            return None
        headers = [header for pattern, rule in self.rules if rule_matches(pattern, path) for header in rule]
        return headers or None

    def file_response(
        self, full_path: os.PathLike[str] | str, stat_result: os.stat_result, scope: Scope, status_code: int = 200
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
