"""`python build.py`: clean lines and an exit code, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parent.parent / "build.py"


def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PORCH_CONFIG"} | (env or {})
    result = subprocess.run([sys.executable, str(BUILD), *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60,
                            check=False)
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text(
        "business:\n  name: Acme\nlogin_link:\n  url: https://billing.acme.example\nlocales: {available: [en, de]}\n"
    )
    return tmp_path


def test_builds_public_from_config_yaml_by_default(folder: Path) -> None:
    result = run(folder)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Built public from config.yaml in ") and lines[0].endswith(": 9 pages in 2 locales, 70 files.")
    assert re.fullmatch(r"  login/index.html +\d+\.\d KB compressed with all it loads \((en|de), the heaviest\) \(budget 14 KB\)", lines[1])
    assert lines[2].startswith("  portal/index.html ") and lines[2].endswith("(budget 28 KB)")
    assert lines[3].startswith("  receipt/index.html ") and lines[3].endswith("(budget 28 KB)")
    assert (folder / "public/login/index.html").is_file() and (folder / "public/de/login/index.html").is_file()


def test_one_locale_is_named_in_the_summary(folder: Path) -> None:
    (folder / "config.yaml").write_text("locales: {available: [ja], default: ja}\n")
    lines = run(folder).stdout.splitlines()
    assert lines[0].endswith(": 5 pages in ja, 49 files.")
    assert lines[1].startswith("  login/index.html ") and lines[1].endswith(" KB compressed with all it loads (budget 14 KB)")


def test_config_and_out_come_from_options_or_the_environment(folder: Path) -> None:
    (folder / "config.yaml").rename(folder / "shop.yaml")
    assert run(folder, "--config", "shop.yaml", "--out", "site-out").returncode == 0
    assert (folder / "site-out/portal/index.html").is_file()
    assert run(folder, "--out", "from-env", env={"PORCH_CONFIG": "shop.yaml"}).returncode == 0
    assert (folder / "from-env/portal/index.html").is_file()


def test_every_config_error_is_reported_word_for_word(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        "business:\n  name: Acme\n  support_email: not-an-address\nbranding:\n  brand_color: blue\n  font: comic\n"
    )
    result = run(tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        ('error: config.yaml:3: business.support_email: expected an email address, found "not-an-address". '
        "Hint: write an address such as billing@acme.example."),
        ('error: config.yaml:5: branding.brand_color: expected a colour as "#rrggbb", found "blue". '
        'Hint: write # and six hex digits, such as "#0a2540"; quote it in YAML.'),
        ("error: config.yaml:6: branding.font: expected one of: system, humanist, geometric, rounded, serif or mono, "
        'found "comic". Hint: choose one of the listed values.'),
        "config.yaml: 3 problems; nothing was built.",
    ]
    assert not (tmp_path / "public").exists()


UNKNOWN = (
    "config.yaml:3: business.colour: expected a known key, found an unknown key. "
    "Hint: remove it, or use one of: name, headline, privacy_policy_url, terms_of_service_url, support_email."
)


def test_unknown_key_is_a_warning(folder: Path) -> None:
    (folder / "config.yaml").write_text(
        "business:\n  name: Acme\n  colour: red\nlogin_link:\n  url: https://billing.acme.example\nlocales: {available: [en]}\n"
    )
    result = run(folder)
    assert result.returncode == 0
    assert result.stderr.splitlines() == ["warning: " + UNKNOWN]
    assert (folder / "public/index.html").is_file()


def test_strict_turns_an_unknown_key_into_a_failure(folder: Path) -> None:
    (folder / "config.yaml").write_text("business:\n  name: Acme\n  colour: red\n")
    result = run(folder, "--strict")
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: " + UNKNOWN, "config.yaml: 1 problem; nothing was built."]
    assert not (folder / "public").exists()


def test_missing_config_file(tmp_path: Path) -> None:
    result = run(tmp_path, "--config", "nowhere.yaml")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        ("error: nowhere.yaml: (file): expected a readable file, found No such file or directory. "
        "Hint: create it, or pass --config PATH, or set PORCH_CONFIG."),
        "nowhere.yaml: 1 problem; nothing was built.",
    ]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("business:\n  name: [Acme\n")
    result = run(tmp_path)
    assert result.returncode == 1
    (first, last) = result.stderr.splitlines()
    assert first.startswith("error: config.yaml:3: (YAML syntax): expected valid YAML, found ")
    assert last == "config.yaml: 1 problem; nothing was built."


def test_build_errors_are_one_line_and_change_nothing(folder: Path) -> None:
    (folder / "public").mkdir()
    (folder / "public/notes.txt").write_text("mine")
    result = run(folder)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        (f"error: {folder / 'public'} is not empty and is not an earlier build (no _headers file); "
        "empty it or choose another --out"),
        "public: nothing was changed.",
    ]
    assert [p.name for p in (folder / "public").iterdir()] == ["notes.txt"]


def test_rebuilding_over_an_earlier_build_works(folder: Path) -> None:
    assert run(folder).returncode == 0
    (folder / "config.yaml").write_text("business:\n  name: Renamed\nlocales: {available: [en]}\n")
    result = run(folder)
    assert result.returncode == 0
    assert result.stderr.splitlines() == ["warning: login_link.url is not set: embed.html points to a relative /login/"]
    assert "Renamed" in (folder / "public/portal/index.html").read_text()


def test_the_command_line_builds_the_same_as_build_py(folder: Path) -> None:
    """`python -m backend build` (`porch build` once installed) is build.py's command, options and all."""
    environ = {k: v for k, v in os.environ.items() if k != "PORCH_CONFIG"} | {"PYTHONPATH": str(BUILD.parent)}
    through_cli = subprocess.run([sys.executable, "-m", "backend", "build", "--out", "out", "--strict"], cwd=folder,
                                 env=environ, capture_output=True, text=True, timeout=60, check=False)
    through_script = run(folder, "--out", "out", "--strict")
    assert through_cli.returncode == through_script.returncode == 0, through_cli.stderr
    seconds = re.compile(r" in \d+\.\d\d s:")
    assert seconds.sub("", through_cli.stdout) == seconds.sub("", through_script.stdout)
    help_text = subprocess.run([sys.executable, "-m", "backend", "build", "--help"], cwd=folder, env=environ,
                               capture_output=True, text=True, timeout=60, check=True).stdout
    assert "--config FILE" in help_text and "--out DIRECTORY" in help_text and "--strict" in help_text
