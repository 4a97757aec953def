"""Web server configurations that serve public/ exactly as its `_headers` file says and
forward /api/ and /v1/ to the backend: `python -m backend deploy caddy|nginx` prints one for
/etc; `python -m backend deploy netlify|cloudflare` writes the files those platforms read into
public/ itself, since they publish that folder and nothing beside it.

Each target is one function from a `Deployment` (the parsed rules of `_headers`, the
site's address, the backend's and the folder) to the text its server reads, or for a CDN
to the files it reads, by name. Every web server target does the same things, each in its
own server's words (the CDN targets do what their platforms let them; the README says
what each cannot):

- a path that a `_headers` rule matches gets exactly that rule's headers, whatever the
  spelling (`//portal/` and `/portal//` are looked up as `/portal/`);
- any other answer (a 404, the redirect of `/login` to `/login/`) gets the backend's own strict
  set, static.NOT_A_PAGE, so each host answers alike;
- `.br` and `.gz` copies are served to browsers that take them;
- `/login?x=1` redirects to `/login/?x=1`, keeping the query;
- `/api/` (the portal's API) and `/v1/` (the merchant's) reach the backend with the Host header
  (port included), the scheme and the client's address, which the backend believes from
  PORCH_TRUSTED_PROXIES only;
- `_headers`, and anything else whose name starts with `_`, is not served.

Porch's `_headers` never has two rules for one path (see pages.headers_file), so each
rule becomes one matcher or location and no server has to join values.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from backend.static import NOT_A_PAGE, read_header_rules, rule_regex

Rules = list[tuple[str, list[tuple[str, str]]]]

# Files whose names start with `_` belong to the build (`_headers`) or the host, not to visitors.
HIDDEN = "/_"


class DeployError(Exception):
    """The options cannot make a working configuration; the message says which and how to fix it."""


@dataclass(frozen=True)
class Site:
    scheme: str  # "http" or "https"
    host: str  # empty for "any name", as with `--site :8080`
    port: int

    @property
    def ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            return False
        return True


@dataclass(frozen=True)
class Deployment:
    rules: Rules
    site: Site
    backend: str  # host:port for a web server; scheme://host[:port] for a CDN, which reaches it over the internet
    public: Path  # absolute
    command: str  # the command line that made it, for the header comment

    def fallback(self) -> list[tuple[str, str]]:
        """NOT_A_PAGE, plus HSTS whenever the pages send it: a browser should never leave HTTPS."""
        hsts = {name: value for _, headers in self.rules for name, value in headers if name == "Strict-Transport-Security"}
        return list({**NOT_A_PAGE, **hsts}.items())

    def groups(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """Paths sharing a set of headers, as one anchored regular expression, in the order of `_headers`."""
        grouped: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for pattern, headers in self.rules:
            grouped.setdefault(tuple(headers), []).append(rule_regex(pattern))
        return [(_either(regexes), list(headers)) for headers, regexes in grouped.items()]

    def unmatched(self) -> str:
        """An anchored regular expression for every path some rule names."""
        return _either([rule_regex(pattern) for pattern, _ in self.rules])


def parse_site(address: str) -> Site:
    """`https://billing.acme.example`, `http://127.0.0.1:8080` or `:8080` (plain HTTP on every name)."""
    parts = urlsplit(("http://" if address.startswith(":") else "" if "://" in address else "https://") + address)
    try:
        port = parts.port if parts.port is not None else 443 if parts.scheme == "https" else 80
    except ValueError:  # not a number, or over 65535
        port = 0
    named = parts.hostname or (address.startswith(":") and parts.port is not None)
    if parts.scheme not in ("http", "https") or not named or not port \
            or parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise DeployError(
            f"--site {address}: expected the portal's address, such as https://billing.acme.example, "
            "http://127.0.0.1:8080 or :8080"
        )
    host = parts.hostname or ""
    return Site(parts.scheme, f"[{host}]" if ":" in host else host, port)


def parse_backend(address: str) -> str:
    match = re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", address)
    if not match or not 0 < int(match[2]) < 65536:
        raise DeployError(f"--backend {address}: expected HOST:PORT, such as 127.0.0.1:8000")
    return address


def parse_backend_url(address: str) -> str:
    """`https://api.billing.acme.example[:port]`: a CDN forwards over the internet, so only over TLS, except
    to this machine (`http://127.0.0.1:8000`), where `wrangler pages dev` or `netlify dev` try the files out."""
    parts = urlsplit(address)
    try:
        port_ok = parts.port != 0
    except ValueError:  # not a number, or over 65535
        port_ok = False
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not host or not port_ok or parts.scheme not in ("https", "http") or (parts.scheme == "http" and not loopback) \
            or parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise DeployError(
            f"--backend {address}: expected the backend's https:// address as the platform reaches it, such as "
            "https://api.billing.acme.example (http:// only to this machine, such as http://127.0.0.1:8000)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def deployment(public: Path, site: str, backend: str, command: str, cdn: bool = False) -> Deployment:
    headers = public / "_headers"
    if not headers.is_file():
        raise DeployError(f"{headers} does not exist: build it first (`python build.py` in a checkout, `porch build` "
                          "where Porch is installed), or name the built site with --public")
    backend = parse_backend_url(backend) if cdn else parse_backend(backend)
    return Deployment(read_header_rules(headers), parse_site(site), backend, public.resolve(), command)


def _either(regexes: list[str]) -> str:
    return "^" + (regexes[0] if len(regexes) == 1 else "(?:" + "|".join(regexes) + ")") + "$"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _preamble(d: Deployment, server: str) -> list[str]:
    return [
        f"# Porch behind {server}, made by `{d.command}`.",
        f"# It serves {d.public} with the headers of its _headers file and forwards /api/ and /v1/ to {d.backend}:",
        "# make it again whenever config.yaml changes, after building the site again.",
        "# Start the backend with PORCH_TRUSTED_PROXIES set to this server's address as the backend sees it",
        "# (PORCH_TRUSTED_PROXIES=127.0.0.1 on one machine), so that it believes X-Forwarded-For and -Proto.",
    ]


def caddy(d: Deployment) -> str:
    """A Caddyfile site block. An https:// site gets its certificate from Caddy (automatic HTTPS)."""
    site = d.site
    if site.scheme == "https":
        address = site.host + ("" if site.port == 443 else f":{site.port}")
    else:
        address = f"http://{site.host}" + ("" if site.port == 80 else f":{site.port}") if site.host else f":{site.port}"
    fallback = d.fallback()
    groups = d.groups()
    lines = _preamble(d, "Caddy") + [f"{address} {{"]
    if site.ip:
        lines.append(f"\tbind {site.host}")
    lines += [
        "\t# One slash between segments before anything looks at the path: //portal/ is /portal/.",
        "\turi path_regexp /{2,} /",
        "\t@backend path /api/* /v1/*",
        "\thandle @backend {",
        "\t\t# Caddy keeps the Host header (and its port) and sets X-Forwarded-For and -Proto.",
        f"\t\treverse_proxy {d.backend}",
        "\t}",
        "\thandle {",
        f"\t\troot * {d.public}",
        "\t\troute {",
    ]
    for number, (regex, headers) in enumerate(groups, 1):
        lines.append(f"\t\t\t@rule{number} path_regexp {regex}")
        lines.append(f"\t\t\theader @rule{number} {{")
        lines += [f"\t\t\t\t{name} {_quoted(value)}" for name, value in headers]
        lines.append("\t\t\t}")
    lines.append("\t\t\t@unmatched not path_regexp " + d.unmatched())
    lines.append("\t\t\theader @unmatched {")
    lines += [f"\t\t\t\t{name} {_quoted(value)}" for name, value in fallback]
    lines += [
        "\t\t\t}",
        f"\t\t\t@hidden path_regexp {HIDDEN}",
        "\t\t\terror @hidden 404",
        "\t\t\t# A folder without its slash: redirect, keeping the query (Caddy's own redirect drops it).",
        "\t\t\t@folder_query {",
        "\t\t\t\tnot path */",
        "\t\t\t\tfile {path}/index.html",
        '\t\t\t\texpression {query} != ""',
        "\t\t\t}",
        "\t\t\tredir @folder_query {path}/?{query} 308",
        "\t\t\t@folder {",
        "\t\t\t\tnot path */",
        "\t\t\t\tfile {path}/index.html",
        "\t\t\t}",
        "\t\t\tredir @folder {path}/ 308",
        "\t\t\tfile_server {",
        "\t\t\t\tprecompressed br gzip",
        "\t\t\t}",
        "\t\t}",
        "\t}",
        "\t# Errors (a missing file, a backend that does not answer) get the fallback headers alone.",
        "\thandle_errors {",
        "\t\theader {",
    ]
    kept = {name for name, _ in fallback}
    lines += [f"\t\t\t-{name}" for name in dict.fromkeys(n for _, headers in groups for n, _ in headers if n not in kept)]
    lines += [f"\t\t\t{name} {_quoted(value)}" for name, value in fallback]
    lines += ["\t\t}", "\t}", "}"]
    return "\n".join(lines) + "\n"


def nginx(d: Deployment) -> str:
    """Server blocks for nginx's http context (on Debian: /etc/nginx/conf.d/porch.conf). Brotli copies
    need Debian's libnginx-mod-http-brotli-static. An https:// site gets a `listen 443 ssl` server
    whose certificate paths are certbot's; plain HTTP on port 80 redirects to it."""
    site = d.site
    lines = _preamble(d, "nginx")
    if site.scheme == "https":
        lines += [
            "server {",
            "    listen 80;",
            f"    server_name {site.host};",
            "    return 301 https://$host$request_uri;",
            "}",
            "",
            "server {",
            f"    listen {site.port} ssl http2;",
            f"    server_name {site.host};",
            "    # Where certbot puts the certificate; point these at yours if it comes from elsewhere.",
            f"    ssl_certificate /etc/letsencrypt/live/{site.host}/fullchain.pem;",
            f"    ssl_certificate_key /etc/letsencrypt/live/{site.host}/privkey.pem;",
        ]
    else:
        listen = f"{site.host}:{site.port}" if site.ip else str(site.port)
        lines += ["server {", f"    listen {listen};"]
        if site.host and not site.ip:
            lines.append(f"    server_name {site.host};")
    fallback = d.fallback()

    def add_headers(headers: list[tuple[str, str]]) -> list[str]:
        # `always`: on every status, not only on 2xx and 3xx. nginx drops a server's add_header in
        # any location that has its own, so every location lists all of its headers.
        return [f"        add_header {name} {_quoted(value)} always;" for name, value in headers]

    lines += [
        f"    root {d.public};",
        "    server_tokens off;",
        "    charset utf-8;",
        "    # Redirects name no host, so /login -> /login/ stays on the address the browser used.",
        "    absolute_redirect off;",
        "    gzip_static on;",
        "    gzip_vary on;",
        "    brotli_static on;",
        "    error_page 403 404 =404 @missing;",
        "",
        *(line for prefix in ("/api/", "/v1/") for line in (
            f"    location ^~ {prefix} {{",
            f"        proxy_pass http://{d.backend};",
            "        # $http_host, not $host: the port is part of the origin the backend checks requests against.",
            "        proxy_set_header Host $http_host;",
            "        proxy_set_header X-Forwarded-Proto $scheme;",
            "        proxy_set_header X-Forwarded-For $remote_addr;",
            "    }",
            "",
        )),
        "    location @missing {",
        *add_headers(fallback),
        "        return 404;",
        "    }",
        "",
        f'    location ~ "{HIDDEN}" {{',
        "        return 404;",
        "    }",
    ]
    for regex, headers in d.groups():
        lines += ["", f"    location ~ {_quoted(regex)} {{", *add_headers(headers), "    }"]
    lines += ["", "    location / {", *add_headers(fallback), "    }", "}"]
    return "\n".join(lines) + "\n"


# Both platforms answer a path that names no file with public/404.html, and without one Cloudflare Pages
# answers 200 with index.html (it takes the site for a single-page app). No words: zxx, no language.
NOT_FOUND_PAGE = (
    '<!doctype html>\n<html lang="zxx">\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>404</title>\n<h1>404</h1>\n"
)


def netlify(d: Deployment) -> dict[str, str]:
    """`_redirects`: Netlify proxies /api/ and /v1/ itself and applies `_headers` to every file it serves."""
    lines = [
        f"# Porch on Netlify, made by `{d.command}`.",
        f"# Netlify proxies /api/ and /v1/ to {d.backend}; `_headers` gives every page its headers.",
        "# `python build.py` replaces public/: make this file again after every build.",
        "# 200: a rewrite, the address bar keeps the portal's name. !: even over a file of the same name.",
        *(f"{prefix}*  {d.backend}{prefix}:splat  200!" for prefix in ("/api/", "/v1/")),
        "# The build's own files are not pages.",
        *(f"/{name}  /404.html  404!" for name in ("_headers", "_redirects")),
    ]
    return {"_redirects": "\n".join(lines) + "\n", "404.html": NOT_FOUND_PAGE}


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def cloudflare(d: Deployment) -> dict[str, str]:
    """`_worker.js` and `_routes.json` for Cloudflare Pages, whose `_redirects` cannot proxy to another host.

    The worker runs for every path but /assets/*, which Pages serves itself with the `_headers` rule for
    it. It forwards /api/ and /v1/, and gives each page the headers of its rule itself: Pages would serve
    `//portal/` as /portal/ without them (its `_headers` rules match the path as sent), answers /embed.html
    with a redirect to /embed (which no rule names), and sends unmatched answers with none of the fallback."""
    rules = ",\n".join(f"  [new RegExp({_js(regex)}), {_js([list(h) for h in headers])}]" for regex, headers in d.groups())
    worker = rf"""// Porch on Cloudflare Pages, made by `{d.command}`.
// It forwards /api/ and /v1/ to {d.backend} and serves public/ with the headers of its _headers file.
// `python build.py` replaces public/: make this file again after every build.
const BACKEND = {_js(d.backend)};
const RULES = [
{rules},
];
const FALLBACK = {_js([list(h) for h in d.fallback()])};

function headed(answer, headers) {{
  const copy = new Response(answer.body, answer);
  for (const [name, value] of headers) copy.headers.set(name, value);
  return copy;
}}

export default {{
  async fetch(request, env) {{
    const url = new URL(request.url);
    if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/v1/")) {{
      // Method, headers and body as they came; Host becomes the backend's own name.
      const forwarded = new Request(BACKEND + url.pathname + url.search, request);
      // The client's own X-Forwarded-For is dropped: the backend hears the address Cloudflare saw.
      forwarded.headers.delete("X-Forwarded-For");
      const client = request.headers.get("CF-Connecting-IP");
      if (client) forwarded.headers.set("X-Forwarded-For", client);
      forwarded.headers.set("X-Forwarded-Proto", url.protocol.slice(0, -1));
      try {{
        return await fetch(forwarded);
      }} catch {{
        // The backend did not answer: a bare 502, as from Caddy or nginx, not Pages' HTML error page.
        return headed(new Response(null, {{ status: 502 }}), FALLBACK);
      }}
    }}
    // One slash between segments: //portal/ is /portal/, and no Location can name another host.
    const path = url.pathname.replace(/\/{{2,}}/g, "/");
    if (path !== url.pathname) {{
      return headed(new Response(null, {{ status: 308, headers: {{ Location: path + url.search }} }}), FALLBACK);
    }}
    // _worker.js, _routes.json and _headers belong to the platform, not to visitors.
    if (/\/(?:_|%5f)/i.test(path)) return headed(new Response(null, {{ status: 404 }}), FALLBACK);
    // Pages redirects /embed.html to /embed: ask for the file by that name, so /embed.html stays its address.
    const pretty = path.endsWith(".html") && !path.endsWith("/index.html");
    const answer = await env.ASSETS.fetch(pretty ? new Request(new URL(path.slice(0, -5) + url.search, url), request) : request);
    // A 304 too: a browser keeps the headers it revalidates with, and must keep the page's own.
    const rule = answer.ok || answer.status === 304 ? RULES.find(([regex]) => regex.test(path)) : undefined;
    return headed(answer, rule ? rule[1] : FALLBACK);
  }},
}};
"""
    # Assets are most requests and need nothing of the worker: Pages serves them without invoking it.
    routes = {"version": 1, "include": ["/*"], "exclude": ["/assets/*"]}
    return {"_worker.js": worker, "_routes.json": _js(routes) + "\n", "404.html": NOT_FOUND_PAGE}


PRINTED: dict[str, Callable[[Deployment], str]] = {"caddy": caddy, "nginx": nginx}
WRITTEN: dict[str, Callable[[Deployment], dict[str, str]]] = {"netlify": netlify, "cloudflare": cloudflare}
PUBLISH = {"netlify": "netlify deploy --prod --dir {public}", "cloudflare": "wrangler pages deploy {public}"}
