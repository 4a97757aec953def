"""`python -m backend ...`: each command's output, and every error as one clear
message with exit code 1, never a traceback (SPEC section 2)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from backend import __version__
from backend.cli import main
from backend.config import json_schema
from backend.settings import SETTINGS

SECRET = "cli-test-secret-that-is-long-enough-0123456789"
SECRET_HOWTO = (
    "set it to at least 32 random bytes, for example with\n"
    "  export PORCH_SECRET_KEY=\"$(python -c 'import secrets; print(secrets.token_urlsafe(48))')\""
)
VALID_CONFIG = "business:\n  name: Acme\n"
BAD_CONFIG = "business:\n  name: Acme\n  support_email: nope\nbranding:\n  brand_color: blue\n"
BAD_CONFIG_LINES = [
    ('config.yaml:3: business.support_email: expected an email address, found "nope". '
     "Hint: write an address such as billing@acme.example."),
    ('config.yaml:5: branding.brand_color: expected a colour as "#rrggbb", found "blue". '
     'Hint: write # and six hex digits, such as "#0a2540"; quote it in YAML.'),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with a valid config.yaml, as the commands' defaults expect."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text(VALID_CONFIG)
    return tmp_path


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port that is taken: should `serve` ever get past its checks, it fails to bind instead of serving."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def run(*args: str, **env: str | None) -> Result:
    """Invoke the CLI with only the PORCH_ variables given; an exception other than the exit is a bug."""
    environ: dict[str, str | None] = {name: None for name, _, _ in SETTINGS}
    environ["PORCH_OUTBOX_DIR"] = "outbox"
    environ.update(env)
    result = CliRunner().invoke(main, list(args), env=environ)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def failure(result: Result) -> str:
    assert result.exit_code == 1
    return result.stderr


def data_file(folder: Path, data: Any) -> str:
    (folder / "data.json").write_text(json.dumps(data))
    return "data.json"


DATA = {
    "products": [{"id": "prod_a", "name": "A"}],
    "prices": [{"id": "price_a", "product": "prod_a"}],
    "customers": [{"id": "cus_1", "email": "pat@example.com"}, {"id": "cus_2"}],
}


def test_import_prints_the_counts_and_can_be_run_again(folder):
    name = data_file(folder, DATA)
    expected = "Imported 1 product, 1 price, 2 customers, 0 payment methods, 0 subscriptions, 0 invoices.\n"
    first = run("import", name, PORCH_DATABASE_URL="sqlite:///store/porch.db")
    assert first.exit_code == 0, first.output
    assert first.stdout == expected
    assert (folder / "store/porch.db").is_file()
    again = run("import", name, PORCH_DATABASE_URL="sqlite:///store/porch.db")
    assert again.exit_code == 0
    assert again.stdout == expected


def test_import_needs_no_secret_and_defaults_to_porch_db_in_the_working_folder(folder):
    result = run("import", data_file(folder, DATA))
    assert result.exit_code == 0, result.output
    assert (folder / "porch.db").is_file()


def test_import_of_a_bad_file_is_one_message(folder):
    name = data_file(folder, {"customers": [{"email": "pat@example.com"}]})
    assert failure(run("import", name)) == 'Error: data.json: customers[0]: each object needs a string "id"\n'
    assert failure(run("import", "absent.json")) == "Error: absent.json: cannot read it: No such file or directory\n"


def test_import_into_a_file_that_is_not_a_database_is_one_message(folder):
    (folder / "porch.db").write_text("these are notes, not a database; " * 200)
    assert failure(run("import", data_file(folder, DATA), PORCH_DATABASE_URL="sqlite:///porch.db")) == (
        "Error: cannot open the database at PORCH_DATABASE_URL (sqlite:///porch.db): "
        "DatabaseError: file is not a database\n"
    )


def test_a_database_path_through_a_file_is_one_message(folder):
    (folder / "notes").write_text("a file, not a folder")
    assert failure(run("import", data_file(folder, DATA), PORCH_DATABASE_URL="sqlite:///notes/porch.db")) == (
        "Error: cannot open the database at PORCH_DATABASE_URL (sqlite:///notes/porch.db): "
        "FileExistsError: [Errno 17] File exists: 'notes'\n"
    )


def test_postgresql_without_its_driver_is_one_message(folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as when the postgres extra is not installed
    result = run("import", data_file(folder, DATA), PORCH_DATABASE_URL="postgresql://porch@db.internal/porch")
    assert failure(result) == (
        "Error: PORCH_DATABASE_URL needs the psycopg driver, which is not installed: pip install 'porch[postgres]'\n"
    )


def test_schema_prints_the_config_json_schema(folder):
    result = run("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json_schema()


def test_version(folder):
    assert run("--version").stdout == f"porch, version {__version__}\n"


def test_check_passes_with_a_valid_setup(folder):
    result = run("check", PORCH_SECRET_KEY=SECRET, PORCH_DATABASE_URL="sqlite:///porch.db")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "config:   config.yaml is valid\n"
        "database: reachable, schema up to date\n"
        "mail:     outbox outbox (no PORCH_SMTP_URL set)\n"
        "All good.\n"
    )
    assert result.stderr == ""
    assert (folder / "porch.db").is_file()
    assert (folder / "outbox").is_dir()


def test_check_passes_with_unknown_keys_but_warns(folder):
    (folder / "config.yaml").write_text("business:\n  name: Acme\n  slogan: Hi\n")
    result = run("check", PORCH_SECRET_KEY=SECRET)
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Warning: config.yaml:3: business.slogan: expected a known key, found an unknown key. "
        "Hint: remove it, or use one of: name, headline, privacy_policy_url, terms_of_service_url, support_email.\n"
    )


def test_check_reads_the_config_named_by_the_option(folder):
    (folder / "shop.yaml").write_text(BAD_CONFIG)
    result = run("check", "--config", "shop.yaml", PORCH_SECRET_KEY=SECRET)
    assert failure(result).splitlines()[1:] == [
        "  " + line.replace("config.yaml", "shop.yaml") for line in BAD_CONFIG_LINES
    ]


def test_check_lists_every_problem_in_one_message(folder):
    (folder / "config.yaml").write_text(BAD_CONFIG)
    port = free_port()  # nothing listens there
    result = run("check", PORCH_SECRET_KEY="short", PORCH_SMTP_URL=f"smtp://127.0.0.1:{port}")
    lines = failure(result).splitlines()
    assert lines[:5] == [
        "Error: check found problems:",
        "  PORCH_SECRET_KEY is only 5 bytes: " + SECRET_HOWTO.splitlines()[0],
        SECRET_HOWTO.splitlines()[1],
        *("  " + line for line in BAD_CONFIG_LINES),
    ]
    assert lines[5].startswith(f"  mail: cannot reach SMTP at 127.0.0.1:{port}: ")
    assert len(lines) == 6
    # What did work is still said.
    assert result.stdout == "database: reachable, schema up to date\n"


def test_check_reports_a_database_it_cannot_open(folder):
    (folder / "porch.db").write_text("these are notes, not a database; " * 200)
    result = run("check", PORCH_SECRET_KEY=SECRET)
    assert failure(result) == (
        "Error: check found problems:\n"
        "  cannot open the database at PORCH_DATABASE_URL (sqlite:///porch.db): DatabaseError: file is not a database\n"
    )
    assert "config:   config.yaml is valid\n" in result.stdout


def test_check_reports_a_missing_config_file(folder):
    (folder / "config.yaml").unlink()
    result = run("check", PORCH_SECRET_KEY=SECRET)
    assert failure(result) == (
        "Error: check found problems:\n"
        "  config.yaml: (file): expected a readable file, found No such file or directory. "
        "Hint: create it, or pass --config PATH, or set PORCH_CONFIG.\n"
    )


def test_serve_without_a_secret_says_how_to_set_one(folder, busy_port):
    result = run("serve", "--port", str(busy_port))
    assert failure(result) == f"Error: PORCH_SECRET_KEY is unset: {SECRET_HOWTO}\n"
    assert result.stdout == ""


def test_serve_with_a_short_secret_says_how_long_it_is(folder, busy_port):
    result = run("serve", "--port", str(busy_port), PORCH_SECRET_KEY="x" * 31)
    assert failure(result) == f"Error: PORCH_SECRET_KEY is only 31 bytes: {SECRET_HOWTO}\n"


def test_serve_with_a_bad_config_lists_its_errors(folder, busy_port):
    (folder / "config.yaml").write_text(BAD_CONFIG)
    result = run("serve", "--port", str(busy_port), PORCH_SECRET_KEY=SECRET)
    assert failure(result) == "Error: the config has errors:\n" + "".join(f"  {line}\n" for line in BAD_CONFIG_LINES)


def test_serve_without_a_catalogue_the_config_offers_refuses_to_start(tmp_path, busy_port):
    """A Porch whose German catalogue is gone, in a copy of the checkout: German mail would be English."""
    root = Path(__file__).resolve().parent.parent
    copy = tmp_path / "porch"
    shutil.copytree(root / "backend", copy / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(root / "site", copy / "site")
    missing = copy / "site/locales/de/LC_MESSAGES/messages.po"
    missing.unlink()
    work = tmp_path / "work"
    work.mkdir()
    (work / "config.yaml").write_text(VALID_CONFIG + "locales: {available: [en, de]}\n")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PORCH_")} | {
        "PYTHONPATH": str(copy), "PORCH_SECRET_KEY": SECRET}
    result = subprocess.run([sys.executable, "-m", "backend", "serve", "--port", str(busy_port)], cwd=work,
                            env=environ, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    hint, error = result.stderr.splitlines()
    assert hint == "No public/ folder: serving the API only. Run `python -m backend build` to build the pages."
    assert error == (f"Error: the de catalogue {missing} is missing, so its pages and mail would be English; a checkout "
                     "keeps site/ beside backend/ and an installed package inside it, as backend/site/: install Porch "
                     "from a wheel built with pyproject-build, or run it from a checkout")


@pytest.mark.parametrize("command", [["serve"], ["check"], ["import", "data.json"]])
@pytest.mark.parametrize(("env", "message"), [
    ({"PORCH_DATABASE_URL": "mysql://db.internal/porch"},
     ("PORCH_DATABASE_URL 'mysql://db.internal/porch' is not supported: "
      "use sqlite:///path/to/file.db or postgresql://user@host/dbname")),
    ({"PORCH_DATABASE_URL": "sqlite://porch.db"},
     ("PORCH_DATABASE_URL 'sqlite://porch.db' is not supported: "
      "use sqlite:///path/to/file.db or postgresql://user@host/dbname")),
    ({"PORCH_TRUSTED_PROXIES": "10.0.0.1, proxy.internal"},
     "PORCH_TRUSTED_PROXIES has 'proxy.internal', which is not an IP address or network such as 10.0.0.0/8"),
    ({"PORCH_TRUSTED_PROXIES": "10.0.0.300"},
     "PORCH_TRUSTED_PROXIES has '10.0.0.300', which is not an IP address or network such as 10.0.0.0/8"),
    ({"PORCH_SMTP_URL": "http://mail.internal:25"},
     "PORCH_SMTP_URL must start with one of smtp://, smtps://, smtp+starttls://"),
])
def test_malformed_settings_are_one_message(folder, busy_port, command, env, message):
    data_file(folder, DATA)
    args = command + (["--port", str(busy_port)] if command == ["serve"] else [])
    result = run(*args, PORCH_SECRET_KEY=SECRET, **env)
    if command == ["check"]:
        assert failure(result) == (
            f"Error: check found problems:\n  {message}\n"
            "  database and mail: not checked until the settings above are fixed\n"
        )
    else:
        assert failure(result) == f"Error: {message}\n"
    assert not (folder / "porch.db").exists()


def test_every_malformed_setting_is_named_at_once(folder, busy_port):
    result = run("serve", "--port", str(busy_port), PORCH_SECRET_KEY="short",
                 PORCH_DATABASE_URL="mysql://db/porch", PORCH_SMTP_URL="http://mail:25")
    assert failure(result).splitlines() == [
        "Error: PORCH_SECRET_KEY is only 5 bytes: " + SECRET_HOWTO.splitlines()[0],
        SECRET_HOWTO.splitlines()[1],
        ("PORCH_DATABASE_URL 'mysql://db/porch' is not supported: "
         "use sqlite:///path/to/file.db or postgresql://user@host/dbname"),
        "PORCH_SMTP_URL must start with one of smtp://, smtps://, smtp+starttls://",
    ]


def test_keys_create_prints_the_key_once_and_list_never_shows_it(folder):
    made = run("keys", "create", "--name", "billing server", PORCH_SECRET_KEY=SECRET)
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert key.startswith("sk_porch_") and "\n" not in key
    assert "only time the key is shown" in made.stderr
    listed = run("keys", "list", PORCH_SECRET_KEY=SECRET)
    assert listed.exit_code == 0, listed.output
    key_id, hint = listed.stdout.split()[:2]
    assert key_id.startswith("key_") and hint == "sk_porch_..." + key[-4:]
    assert "billing server" in listed.stdout and "last used never" in listed.stdout
    assert key not in listed.output and key not in (folder / "porch.db").read_bytes().decode("latin-1")


def test_keys_revoke_marks_the_key_revoked_in_the_list(folder):
    run("keys", "create", "--name", "old", PORCH_SECRET_KEY=SECRET)
    key_id = run("keys", "list").stdout.split()[0]
    revoked = run("keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert revoked.stdout.startswith(f"Revoked {key_id} (old) at ")
    assert " revoked " in run("keys", "list").stdout


def test_keys_list_without_keys_says_how_to_make_one(folder):
    assert run("keys", "list").stdout == "No API keys. Make one with `python -m backend keys create --name NAME`.\n"


@pytest.mark.parametrize("args, message", [
    (("keys", "revoke", "key_nope"), "no key key_nope: list the keys with `python -m backend keys list`"),
    (("keys", "create", "--name", " "), "the name must be 1 to 200 characters"),
])
def test_keys_refusals_are_one_message(folder, args, message):
    assert message in failure(run(*args, PORCH_SECRET_KEY=SECRET))


def test_keys_create_needs_the_secret_it_hashes_with(folder):
    assert "PORCH_SECRET_KEY" in failure(run("keys", "create", "--name", "x"))
