"""The build command: config.yaml + site/ -> public/, run as `python build.py` in a checkout and as
`porch build` (or `python -m backend build`) anywhere.

The work happens in backend.pages; this module only reads the options and turns errors into clean
lines and an exit code. It imports no more than the build needs, so that `python build.py` starts fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from backend.config import ConfigError, load_config
from backend.pages import BUDGETS, PAGES, BuildError, build_site
from backend.resources import SITE_DIR


@click.command(help="Validate the config and render the static site into a folder any CDN can serve.")
@click.option(
    "--config",
    "config_path",
    envvar="PORCH_CONFIG",
    default="config.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The portal configuration (also read from PORCH_CONFIG).",
)
@click.option(
    "--out",
    "out_dir",
    default="public",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the site. It is replaced only once the new one is complete.",
)
@click.option("--strict", is_flag=True, help="Treat warnings, such as unknown keys, as errors.")
def build(config_path: Path, out_dir: Path, strict: bool) -> None:
    started = time.perf_counter()
    try:
        config, warnings = load_config(config_path, strict=strict)
    except ConfigError as error:
        for warning in error.warnings:
            click.echo(f"warning: {warning}", err=True)
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        count = len(error.problems)
        click.echo(f"{config_path}: {count} problem{'s' if count != 1 else ''}; nothing was built.", err=True)
        sys.exit(1)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)

    try:
        result = build_site(config, config_path.resolve().parent, SITE_DIR, out_dir)
    except BuildError as error:
        click.echo(f"error: {error}", err=True)
        click.echo(f"{out_dir}: nothing was changed.", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"error: could not write the site: {error.strerror} ({error.filename})", err=True)
        click.echo(f"{out_dir}: nothing was changed.", err=True)
        sys.exit(1)
    for said in result.warnings:
        click.echo(f"warning: {said}", err=True)

    seconds = time.perf_counter() - started
    languages = f"{len(result.locales)} locales" if len(result.locales) > 1 else result.locales[0]
    click.echo(
        f"Built {out_dir} from {config_path} in {seconds:.2f} s: {len(result.pages)} pages in {languages}, {result.files} files."
    )
    for page, weight in result.weights.items():
        heaviest = f" ({result.heaviest[page]}, the heaviest)" if len(result.locales) > 1 else ""
        click.echo(
            f"  {PAGES[page]:<18} {weight / 1024:5.1f} KB compressed with all it loads{heaviest} (budget {BUDGETS[page] // 1024} KB)"
        )
