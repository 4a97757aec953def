"""The wheel as a merchant installs it: built with pyproject-build, installed into a fresh venv, and run
as `porch` in an empty folder outside the checkout: build the pages, import a customer, serve, sign in
over HTTP with the code from the outbox, and the German mail in German; `porch demo` from the sample
config the wheel carries.

The venv sees this environment's packages (--system-site-packages), so that installing the wheel takes
seconds and no network: only Porch itself comes from the wheel, and the test checks that it does."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from helpers import ROOT, SECRET
from processes import free_port, stop, wait_for_code, wait_until_healthy

from backend.i18n import LOCALES, SOURCE, folder, translations
from backend.sessions import LOCAL_COOKIE

pytestmark = pytest.mark.slow
EMAIL = "pat@example.com"


# What a checkout's top may hold that is not the project's: setuptools' own build/ and egg-info among them.
NOT_SOURCE = {".git", "build", "dist", "public", ".porch", ".venv", "porch.db", "porch.egg-info"}


def _not_source(folder: str, names: list[str]) -> set[str]:
    found = {name for name in names if name == "__pycache__" or name.endswith("_cache")}
    return found | (NOT_SOURCE & set(names) if Path(folder) == ROOT else set())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the checkout: a build/ folder left by an earlier wheel would lend this one its files."""
    source = tmp_path_factory.mktemp("source") / "porch"
    shutil.copytree(ROOT, source, ignore=_not_source)
    # Beside this Python, not through PATH, where another Python's may come first.
    tool = Path(sys.executable).with_name("pyproject-build")
    command = str(tool) if tool.is_file() else shutil.which("pyproject-build")
    assert command, "pyproject-build is missing: pip install 'porch[test]'"
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([command, "--wheel", "--outdir", str(out)], cwd=source, capture_output=True, text=True,
                           timeout=600, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    [found] = out.glob("porch-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a venv where Porch is the wheel's."""
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(home)], check=True, timeout=120)
    bin_dir = home / "bin"
    installed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--force-reinstall",
         "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return bin_dir


@pytest.fixture
def environ() -> dict[str, str]:
    """A merchant's environment: no PORCH_ setting but the secret, and nothing that leads to the checkout."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PORCH_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    return kept | {"PORCH_SECRET_KEY": SECRET.decode()}


def porch(venv: Path, cwd: Path, environ: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(venv / "porch"), *args], cwd=cwd, env=environ, capture_output=True, text=True,
                            timeout=300, check=False)
    assert "Traceback" not in result.stderr
    return result


def test_the_wheel_carries_the_templates_assets_catalogues_and_sample_config(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "backend/config.yaml",
        "backend/site/templates/portal.html",
        "backend/site/templates/partials/strings.html",
        "backend/site/assets/js/portal.js",
        "backend/site/assets/css/porch.css",
        "backend/site/assets/img/acme-logo.svg",
        "backend/store/migrations/script.py.mako",
    } | {f"backend/site/locales/{folder(locale)}/LC_MESSAGES/messages.po" for locale in LOCALES if locale != SOURCE}
    assert expected - names == set()
    # The data lives inside the package only: no top-level `site` to shadow the stdlib's, and build.py stays out.
    assert {name.split("/")[0] for name in names} == {"backend", wheel.name.split("-py3")[0] + ".dist-info"}
    assert not any(name.startswith("backend/site/") and name.endswith(".py") for name in names)
    entry_points = zipfile.ZipFile(wheel).read(wheel.name.split("-py3")[0] + ".dist-info/entry_points.txt").decode()
    assert "porch = backend.cli:main" in entry_points


def test_porch_runs_the_installed_package_not_the_checkout(venv: Path, tmp_path: Path, environ: dict[str, str]) -> None:
    found = subprocess.run([str(venv / "python"), "-c", "import backend.resources as r; print(r.SITE_DIR)"],
                           cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=True)
    site_dir = Path(found.stdout.strip())
    assert site_dir.is_relative_to(venv.parent) and site_dir.name == "site" and site_dir.parent.name == "backend"


def test_build_serve_and_sign_in_from_an_empty_folder(venv: Path, tmp_path: Path, environ: dict[str, str]) -> None:
    (tmp_path / "config.yaml").write_text("business:\n  name: Acme\nlocales: {available: [en, de]}\n")
    built = porch(venv, tmp_path, environ, "build")
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith("Built public from config.yaml in ") and ": 9 pages in 2 locales," in built.stdout
    german_login = (tmp_path / "public/de/login/index.html").read_text(encoding="utf-8")
    assert '<html lang="de"' in german_login and "Anmelden" in german_login

    (tmp_path / "data.json").write_text(json.dumps({"customers": [{"id": "cus_pkg", "email": EMAIL, "name": "Pat"}]}))
    imported = porch(venv, tmp_path, environ, "import", "data.json")
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "porch.db").is_file()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen([str(venv / "porch"), "serve", "--port", str(port)], cwd=tmp_path, env=environ,
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(server, url + "/api/health", log, "porch serve")
        with httpx.Client(base_url=url, timeout=15) as client:
            page = client.get("/de/login/")
            assert page.status_code == 200 and "Anmelden" in page.text
            asked = client.post("/api/login/code", json={"email": EMAIL, "locale": "de"})
            assert asked.status_code == 202, asked.text
            code = wait_for_code(tmp_path / ".porch/outbox", EMAIL)
            signed_in = client.post("/api/login/verify", json={"challenge": asked.json()["challenge"], "code": code})
            assert signed_in.status_code == 200, signed_in.text
            token = signed_in.cookies[LOCAL_COOKIE]
        with httpx.Client(base_url=url, timeout=15, cookies={LOCAL_COOKIE: token}) as client:
            portal = client.get("/api/portal")
        assert portal.status_code == 200, portal.text
        assert portal.json()["customer"]["id"] == "cus_pkg"
    finally:
        stop(server)

    [mail] = (tmp_path / ".porch/outbox").glob("*.eml")
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    german = translations("de")
    assert message["Subject"] == german.gettext("Your sign-in code for %(business)s: %(code)s") % {
        "business": "Acme", "code": code}
    assert message["Subject"] != f"Your sign-in code for Acme: {code}"
    assert german.gettext("Your sign-in code is:") in message.get_content()


def test_demo_serves_the_sample_config_the_wheel_carries(venv: Path, tmp_path: Path, environ: dict[str, str]) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        demo = subprocess.Popen([str(venv / "porch"), "demo", "--port", str(port)], cwd=tmp_path, env=environ,
                                stdout=output, stderr=subprocess.STDOUT)
    try:
        # The demo builds all 48 locales before it listens: seconds of work, more on a busy machine.
        wait_until_healthy(demo, f"http://127.0.0.1:{port}/api/health", log, "porch demo", timeout=180)
        login = httpx.get(f"http://127.0.0.1:{port}/login/", timeout=15)
    finally:
        stop(demo)
    assert login.status_code == 200
    assert "Acme" in login.text
    assert (tmp_path / ".porch/demo.db").is_file() and (tmp_path / ".porch/public/de/portal/index.html").is_file()
    assert f"Sign in at http://127.0.0.1:{port}/login/?prefilled_email=" in log.read_text()
