"""The static site: config.yaml + site/ -> public/, ready for any CDN.

`build_site` reads top to bottom: gather assets, render pages, precompress,
write `_headers`, then swap the finished folder into place, so a failed build
never leaves a half-built site. Each page loads one stylesheet and one script:
the templates name the files of site/assets/ they need, in order, and the build
joins them (`bundle`), which compresses better and costs fewer requests.
`security_headers` gives the headers every HTML page is served with; `_headers`
and the backend use the same values.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli
import rcssmin
import rjsmin
from babel import Locale
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from backend import addresses, tax_ids
from backend.config import DEFAULT_CONFIGURATION, FONTS, Config, Features
from backend.errors import PAGE_TEXT
from backend.i18n import (
    ALIASES,
    SOURCE,
    MissingCatalogue,
    direction,
    folder,
    native_name,
    plural_samples,
    translations,
)
from backend.markup import headline_html
from backend.resources import WHERE

# Page name -> file in the output folder.
PAGES = {
    "index": "index.html", "login": "login/index.html", "portal": "portal/index.html",
    "receipt": "receipt/index.html", "embed": "embed.html",
}
# Page name -> the address it is reached at, below the site's root or a locale's folder.
PAGE_PATHS = {name: path.removesuffix("index.html") for name, path in PAGES.items()}
# Pages that run scripts and call the API.
SCRIPTED = ("login", "portal", "receipt")
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"
# Compressed bytes of a page and everything it loads (one round trip for sign-in).
BUDGETS = {"login": 14 * 1024, "portal": 28 * 1024, "receipt": 28 * 1024}
AA = 4.5  # WCAG 2.2 AA contrast for text
# The tax id types whose abbreviation is not the end of the type in capitals ("de_stn:St.-Nr.,..."):
# every portal page carries these, to name a customer's tax ids by abbreviation and country. The
# list of every type is needed only to edit them, so it goes in the editor's file (details.json).
TAX_ABBREVIATIONS = ",".join(
    f"{kind}:{found.abbreviation}" for kind, found in tax_ids.TYPES.items()
    if found.abbreviation != kind.partition("_")[2].upper()
)
COMPRESSIBLE = (".html", ".css", ".js", ".svg", ".json")
# Page surfaces, light and dark; link colours are derived from the accent to stay readable on them.
SURFACES = {
    "light": {
        "bg": "#f5f6f8", "surface": "#ffffff", "text": "#1a1d21", "muted": "#59616c", "border": "#dfe3e8",
        "good": "#17692e", "info": "#0b5394", "warn": "#7a4100", "bad": "#b42318",
        "tint-good": "#e3f6e8", "tint-info": "#e2effc", "tint-warn": "#fdf0dc", "tint-bad": "#fde7e5", "tint-muted": "#eef0f3",
    },
    "dark": {
        "bg": "#111316", "surface": "#1a1d21", "text": "#e8eaed", "muted": "#a4acb6", "border": "#30353c",
        "good": "#6fd98a", "info": "#8cc4ff", "warn": "#f2bd66", "bad": "#ff9a91",
        "tint-good": "#143322", "tint-info": "#132b46", "tint-warn": "#3a2a10", "tint-bad": "#45191b", "tint-muted": "#262a30",
    },
}


class BuildError(Exception):
    """The site cannot be built; the message says what went wrong and how to fix it."""


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    pages: list[str]  # written pages, relative to out_dir
    assets: dict[str, str]  # page and kind -> public path, such as "login.js" -> "/assets/js/login.3f9a1c2b.js"
    weights: dict[str, int]  # page name -> brotli bytes of the page and everything it loads, in its heaviest locale
    heaviest: dict[str, str]  # page name -> that locale
    locales: list[str]  # built, the default (at the root) first
    files: int  # files written, compressed copies included
    warnings: list[str]


def build_site(config: Config, config_dir: Path, site_dir: Path, out_dir: Path) -> BuildResult:
    """Render the site for `config` into `out_dir`, replacing what was there only once all of it is written.

    The default locale's pages are at the root (/login/); every other locale's under its tag
    (/de/login/). With more than one locale, each page starts with locale.js, which sends a
    visitor of a root page on to the locale their browser or a `?locale=` asks for."""
    config_dir, site_dir, out_dir = config_dir.resolve(), site_dir.resolve(), out_dir.resolve()
    _check_out_dir(out_dir, [site_dir, config_dir, Path.cwd()])
    warnings: list[str] = []
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.building-", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; a web server must read it

        # 1. Assets: the site's CSS and JS and the merchant's theme, joined per page as the pages
        #    ask (step 2); the merchant's images. All fingerprinted, and shared by every locale.
        sources: dict[str, str] = {}
        for kind in ("css", "js"):
            for source in sorted((site_dir / "assets" / kind).glob("*.*")):
                sources[f"{kind}/{source.name}"] = minified(source.read_text(encoding="utf-8"), js=kind == "js")
        colors, adjusted = theme_colors(config)
        warnings += adjusted
        # One environment for every locale, so each template is compiled once; its translations are swapped per locale.
        env = _environment(site_dir)
        theme = _render(env, "theme.css", colors, font=FONTS[config.branding.font])
        sources["css/theme.css"] = minified(theme, js=False)
        assets: dict[str, str] = {}

        @functools.cache
        def joined(page: str, names: tuple[str, ...]) -> str:
            kind = names[0].rpartition(".")[2]
            missing = [n for n in names if n not in sources or not n.endswith("." + kind)]
            if missing:
                raise BuildError(f"page {page} asks for {missing[0]}, which is not a .{kind} file in {site_dir / 'assets'}")
            data = ";\n".join(sources[n] for n in names) if kind == "js" else "\n".join(sources[n] for n in names)
            assets[f"{page}.{kind}"] = _write_asset(tmp, kind, f"{page}.{kind}", data.encode())
            return assets[f"{page}.{kind}"]

        def bundle(page: str, names: list[str]) -> str:
            """The public path of `names` (of one kind, .css or .js) joined in order, for `page`;
            joined and written once, however many locales ask for it."""
            return joined(page, tuple(names))

        icon = _branding_image("icon", config.branding.icon, config_dir, tmp, warnings)
        logo = _branding_image("logo", config.branding.logo, config_dir, tmp, warnings)

        features = offered_features(config)
        pages = ["index", "portal", "embed"]
        if features["invoice_history"]["enabled"]:
            pages.insert(2, "receipt")
        if config.login_link.enabled:
            pages.insert(1, "login")
        else:
            warnings.append("login_link.enabled is false: no sign-in page was built and customers cannot sign in")
        if not config.login_link.url:
            warnings.append("login_link.url is not set: embed.html points to a relative /login/")

        # 2. Pages, once per locale.
        locales = config.locales.offered
        names_of = {locale: native_name(locale) for locale in locales}
        languages = dict(sorted(names_of.items(), key=lambda item: _sort_key(item[1]))) if len(locales) > 1 else {}
        bases = {locale: locale_base(config, locale) for locale in locales}
        aliases = {tag: alias for tag, alias in ALIASES.items() if alias in locales}
        written: list[str] = []
        for locale in locales:
            base = bases[locale]
            try:
                catalogue = translations(locale, site_dir / "locales")
            except MissingCatalogue as exc:
                raise BuildError(str(exc)) from None
            env.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
            context = {
                "config": config,
                "business": config.business,
                "features": features,
                "headline": Markup(headline_html(config.business.headline_in(locale, config.locales.default))),
                "icon": icon,
                "logo": logo,
                "bundle": bundle,
                "login_action": (config.login_link.url or "").rstrip("/") + base + "login/",
                "lang": locale,
                "dir": direction(locale),
                "base": base,
                "default_locale": config.locales.default,
                "aliases": aliases,
                "languages": languages,
                "bases": bases,
                "plural_samples": plural_samples(locale),
                "tax_types": TAX_ABBREVIATIONS,
                "error_text": PAGE_TEXT,
                # The embed snippet writes these into its own markup: it loads nothing from Porch.
                "theme": colors,
                "font": FONTS[config.branding.font],
            }
            details = _render(env, "partials/details.json", context, page="details",
                              countries=country_names(locale), all_tax_types=list(tax_ids.TYPES))
            context["details_url"] = _write_asset(tmp, "json", "details.json", details.encode())
            markup = element_tree(_render(env, "partials/dialogs.html", context, page="dialogs"))
            dialogs = _render(env, "partials/dialogs.json", context, page="dialogs", markup=markup)
            context["dialogs_url"] = _write_asset(tmp, "json", "dialogs.json", dialogs.encode())
            for page in pages if base == "/" else localized(pages):
                path = base.lstrip("/") + PAGES[page]
                html = _render(env, f"{page}.html", context, page=page, page_path=PAGE_PATHS[page])
                _write(tmp / path, (html if page == "embed" else unindented(html)).encode())
                written.append(path)

        # 3. Precompressed copies, headers, page weights (the heaviest locale's, per page).
        # Brotli and zlib let go of the GIL while they work, so threads use every core.
        with ThreadPoolExecutor() as pool:
            list(pool.map(_precompress, sorted(p for p in tmp.rglob("*") if p.suffix in COMPRESSIBLE)))
        _write(tmp / "_headers", headers_file(config, pages).encode())
        weights: dict[str, int] = {}
        heaviest: dict[str, str] = {}
        for page in (p for p in pages if p in BUDGETS):
            for locale in locales:
                weight = page_weight(tmp, bases[locale].lstrip("/") + PAGES[page])
                if weight > weights.get(page, -1):
                    weights[page], heaviest[page] = weight, locale
            if weights[page] > BUDGETS[page]:
                warnings.append(
                    f"{PAGES[page]} ({heaviest[page]}) weighs {weights[page]} bytes compressed with what it loads, "
                    f"over its budget of {BUDGETS[page]}"
                )
        files = sum(1 for p in tmp.rglob("*") if p.is_file())

        # 4. Swap the finished site into place.
        _swap(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out_dir, written, assets, weights, heaviest, locales, files, warnings)


def security_headers(config: Config, page: str) -> dict[str, str]:
    """Headers for an HTML page (a key of PAGES), besides Cache-Control (PAGE_CACHE)."""
    if page not in PAGES:
        raise ValueError(f"unknown page {page!r}; expected one of {', '.join(PAGES)}")
    images = ["'self'", *_image_origins(config)]
    policy = [
        "default-src 'none'",
        "img-src " + " ".join(images),
        # The embed snippet carries its own styles so that it loads nothing on the merchant's site; they
        # apply when the file itself is opened too. It has no script and no customer's data to restyle.
        "style-src 'unsafe-inline'" if page == "embed" else "style-src 'self'",
        "base-uri 'none'",
        "frame-ancestors " + " ".join(["'self'", *config.origins]),
    ]
    if page in SCRIPTED:
        policy += [
            "script-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ]
    elif page == "embed":
        policy.append("form-action " + " ".join(["'self'", *config.origins]))
    else:
        policy.append("form-action 'none'")
    headers = {
        "Content-Security-Policy": "; ".join(policy),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": (
            "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
            "microphone=(), payment=(), usb=()"
        ),
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if (config.login_link.url or "").startswith("https://"):
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def asset_headers() -> dict[str, str]:
    """Headers for everything under /assets/: cached for a year, and a merchant SVG opened directly cannot script."""
    return {
        "Cache-Control": ASSET_CACHE,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    }


def headers_file(config: Config, pages: list[str]) -> str:
    """`_headers` in the Netlify / Cloudflare Pages format. Pages are listed one by one
    (not /*) because those hosts join the values of every rule that matches a path. The other
    locales' copies share a rule per page through a `:locale` placeholder, which matches one
    path segment, so no rule matches a page of another kind and Cloudflare's 100-rule cap holds."""
    blocks = [("/assets/*", asset_headers())]
    prefixes = ["/"] + (["/:locale/"] if len(config.locales.offered) > 1 else [])
    for prefix in prefixes:
        for page in pages if prefix == "/" else localized(pages):
            headers = {"Cache-Control": PAGE_CACHE, **security_headers(config, page)}
            path = prefix + PAGES[page]
            blocks.append((path, headers))
            if path.endswith("/index.html"):
                blocks.append((path.removesuffix("index.html"), headers))
    return "\n".join(path + "\n" + "".join(f"  {k}: {v}\n" for k, v in headers.items()) for path, headers in blocks)


def offered_features(config: Config) -> dict[str, dict[str, bool]]:
    """Each feature as the pages are built for it: on when any configuration turns it on. A portal
    session's configuration is known only once the page asks the API, so the page carries the
    scripts, and the file it fetches for its dialogs the dialogs, of every feature a session may
    reach, and shows what GET /api/portal's `features` says."""
    every = [config.configuration(name) for name in (DEFAULT_CONFIGURATION, *config.configurations)]
    return {name: {"enabled": any(getattr(each.features, name).enabled for each in every)} for name in Features.model_fields}


def locale_base(config: Config, locale: str) -> str:
    return config.locales.base(locale)


def localized(pages: list[str]) -> list[str]:
    """The pages each locale's folder has. The root's index.html only sends visitors on to a page
    (which then picks the language), and a rule for /:locale/ would also match /login/."""
    return [page for page in pages if page != "index"]


def theme_colors(config: Config) -> tuple[dict[str, object], list[str]]:
    """The merchant's colours plus the text and link colours that stay readable with them (WCAG AA,
    4.5:1), and a warning for each colour that had to change to get there. In dark mode links are
    always lightened to read on the dark surface; that is the design, not a correction, so it is silent."""
    brand, accent = config.branding.brand_color, config.branding.accent_color
    warnings: list[str] = []
    on_brand = _readable_on(brand)
    if contrast(on_brand, brand) < AA:
        fixed = _legible(brand, on_brand)
        warnings.append(
            f'branding.brand_color "{brand}" gives its text only {contrast(on_brand, brand):.1f}:1 contrast; '
            f'the header and buttons use "{fixed}" ({contrast(on_brand, fixed):.1f}:1) so that they stay readable'
        )
        brand = fixed
    light_link = _legible(accent, SURFACES["light"]["bg"])
    if light_link != accent:
        warnings.append(
            f'branding.accent_color "{accent}" reads at only {contrast(accent, SURFACES["light"]["bg"]):.1f}:1 on the page; '
            f'links and focus rings use "{light_link}" ({contrast(light_link, SURFACES["light"]["bg"]):.1f}:1) so that they stay readable'
        )
    return {
        "brand": brand,
        "on_brand": on_brand,
        "accent": accent,
        "on_accent": _readable_on(accent),
        "light": {**SURFACES["light"], "link": light_link},
        "dark": {**SURFACES["dark"], "link": _legible(accent, SURFACES["dark"]["surface"])},
    }, warnings


def country_names(locale: str) -> list[tuple[str, str, dict[str, object]]]:
    """(code, name, the fields its addresses have) of every country the API accepts, named in
    `locale` and in that language's alphabetical order: the form shows the fields of the chosen one."""
    names = Locale.parse(folder(locale)).territories
    english = Locale("en").territories
    return sorted(((code, names.get(code) or english[code], addresses.form(code)) for code in addresses.countries()),
                  key=lambda item: _sort_key(item[1]))


def _sort_key(name: str) -> str:
    """Alphabetical order across accents: Ö sorts with O, not after Z."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def page_weight(root: Path, page: str) -> int:
    """Brotli bytes of a page and the same-origin assets it references (images count as they are)."""
    html = (root / page).read_text(encoding="utf-8")
    total = (root / (page + ".br")).stat().st_size
    for path in sorted(set(re.findall(r'(?:src|href)="/(assets/[^"]+)"', html))):
        compressed = root / (path + ".br")
        total += (compressed if compressed.exists() else root / path).stat().st_size
    return total


class _TreeParser(HTMLParser):
    """HTML -> nested [tag, {attribute: value}, ...children] lists (see element_tree)."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[Any] = ["", {}]
        self.open: list[list[Any]] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element: list[Any] = [tag, {name: value or "" for name, value in attrs}]
        self.open[-1].append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].append([tag, {name: value or "" for name, value in attrs}])

    def handle_endtag(self, tag: str) -> None:
        if len(self.open) < 2 or self.open[-1][0] != tag:
            raise BuildError(f"dialogs' markup: </{tag}> does not close the element that is open")
        closed = self.open.pop()
        if closed[-1] == " ":
            closed.pop()

    def handle_data(self, data: str) -> None:
        # White space between elements shows as one space, as the browser would lay it out; a lone
        # one at the start or end of an element shows as nothing (handle_endtag drops the end's).
        text = re.sub(r"\s+", " ", data)
        if text != " " or len(self.open[-1]) > 2:
            self.open[-1].append(text)


def element_tree(html: str) -> list[Any]:
    """`html`'s elements as [tag, {attribute: value}, ...children] lists, text as strings: what the portal
    makes into elements with the DOM, since its Trusted Types policy lets no HTML be parsed from a string."""
    parser = _TreeParser()
    parser.feed(html)
    parser.close()
    if len(parser.open) > 1:
        raise BuildError(f"dialogs' markup: <{parser.open[-1][0]}> is never closed")
    return [node for node in parser.root[2:] if not isinstance(node, str) or node.strip()]


def unindented(html: str) -> str:
    """A page without the indentation its template has for its readers: browsers collapse it anyway
    (no page has a <pre>, and its white-space: pre-line boxes keep their line breaks), and it costs
    bytes on the wire. The embed snippet keeps it: merchants read and copy that one."""
    return re.sub(r"\n[ \t]+", "\n", html)


def minified(text: str, js: bool) -> str:
    """The source without what only its readers need (comments, indentation, spaces), by rjsmin and
    rcssmin: they know strings, regular expressions and template literals, which a line-based cut cannot."""
    return (rjsmin.jsmin(text) if js else rcssmin.cssmin(text)) + "\n"


def fingerprinted(name: str, data: bytes) -> str:
    """login.js -> login.3f9a1c2b.js: the name changes whenever the content does."""
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:8]}.{suffix}" if dot else f"{name}.{hashlib.sha256(data).hexdigest()[:8]}"


def _environment(site_dir: Path) -> Environment:
    templates = site_dir / "templates"
    if not templates.is_dir():
        raise BuildError(f"{templates} is missing: site/ must hold templates/, assets/ and locales/; {WHERE}")
    env = Environment(
        loader=FileSystemLoader(str(templates)),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(SOURCE), newstyle=True)  # type: ignore[attr-defined]
    # The strings a page carries, written as UTF-8 and not as \u escapes: six bytes a letter cost the Greek
    # portal 0.8 KB compressed. tojson still escapes <, >, & and ' so the JSON cannot end its <script>.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}
    return env


def _render(env: Environment, name: str, context: dict[str, object], **extra: object) -> str:
    try:
        return env.get_template(name).render(context, **extra)
    except TemplateError as exc:
        where = f"{getattr(exc, 'filename', None) or name}:{getattr(exc, 'lineno', None) or '?'}"
        raise BuildError(f"template {where}: {exc.message or exc}") from None


def _branding_image(key: str, value: str | None, config_dir: Path, out: Path, warnings: list[str]) -> str | None:
    if value is None:
        return None
    if value.startswith(("https://", "http://")):
        warnings.append(f"branding.{key} is a remote URL: every visit will also ask {urlsplit(value).netloc} for it")
        return value
    path = config_dir / value
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"branding.{key}: cannot read {path}: {exc.strerror}; the path is relative to config.yaml") from None
    return _write_asset(out, "img", path.name, data)


def _image_origins(config: Config) -> list[str]:
    found = []
    for value in (config.branding.icon, config.branding.logo):
        if value and value.startswith(("https://", "http://")):
            parts = urlsplit(value)
            found.append(f"{parts.scheme}://{parts.netloc}")
    return list(dict.fromkeys(found))


def _write_asset(root: Path, folder: str, name: str, data: bytes) -> str:
    relative = f"assets/{folder}/{fingerprinted(name, data)}"
    _write(root / relative, data)
    return "/" + relative


def _precompress(path: Path) -> None:
    data = path.read_bytes()
    _write(path.with_name(path.name + ".gz"), gzip.compress(data, compresslevel=9, mtime=0))
    _write(path.with_name(path.name + ".br"), brotli.compress(data, quality=11))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _check_out_dir(out_dir: Path, precious: list[Path]) -> None:
    for kept in precious:
        kept = kept.resolve()
        if out_dir == kept or out_dir in kept.parents:
            raise BuildError(f"refusing to build into {out_dir}: it holds {kept}; choose another --out such as public/")
    if out_dir.exists() and not out_dir.is_dir():
        raise BuildError(f"{out_dir} is a file; choose another --out such as public/")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "_headers").is_file():
        raise BuildError(f"{out_dir} is not empty and is not an earlier build (no _headers file); empty it or choose another --out")


def _swap(new: Path, out_dir: Path) -> None:
    """Put `new` at `out_dir`. The old site stays whole until the last moment, then is removed."""
    if not out_dir.exists():
        os.rename(new, out_dir)
        return
    graveyard = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.rename(out_dir, graveyard / out_dir.name)
    try:
        os.rename(new, out_dir)
    except OSError:
        os.rename(graveyard / out_dir.name, out_dir)
        raise
    finally:
        shutil.rmtree(graveyard, ignore_errors=True)


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two "#rrggbb" colours, from 1 to 21."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _readable_on(background: str) -> str:
    return "#ffffff" if contrast("#ffffff", background) >= contrast("#111111", background) else "#111111"


def _legible(color: str, background: str, ratio: float = AA) -> str:
    """`color`, mixed step by step toward black or white until it reads on `background`."""
    target = 0 if _luminance(background) > 0.18 else 255
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = color
    for step in range(21):
        mixed = "#" + "".join(f"{round(c + (target - c) * step / 20):02x}" for c in rgb)
        if contrast(mixed, background) >= ratio:
            break
    return mixed

