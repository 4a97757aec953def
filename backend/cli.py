"""`python -m backend ...`: the thin edge that turns Porch's errors into clear messages."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from backend import __version__, api_keys
from backend.config import Config, ConfigError, json_schema, load_config
from backend.deploy import PRINTED, PUBLISH, WRITTEN, DeployError, deployment
from backend.events import signing_secrets
from backend.i18n import MissingCatalogue
from backend.resources import SAMPLE_CONFIG, SITE_DIR
from backend.server_options import SERVER_OPTIONS
from backend.settings import Settings, SettingsError
from backend.store import billing
from backend.store.database import Database, DatabaseError, create_engine, migrate
from backend.stripe_api import NotConfigured

F = TypeVar("F", bound=Callable[..., Any])
HOST_HELP = "Address to listen on. 127.0.0.1 (the default) is this machine only; 0.0.0.0 listens on every interface."


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def _porch_errors() -> tuple[type[Exception], ...]:
    # The importer (and the reader of Stripe's shapes it brings, 35 ms) loads only for a command that imports,
    # the page renderer (Jinja, Babel, Markdown) only for one that builds.
    from backend.importer import ImportFileError
    from backend.pages import BuildError

    return (SettingsError, ImportFileError, DatabaseError, DeployError, NotConfigured, api_keys.APIKeyError, BuildError,
            MissingCatalogue)


def _converting(fn: F) -> F:
    """Porch's own errors become one message and exit code 1, never a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            for warning in exc.warnings:
                click.echo(f"Warning: {warning}", err=True)
            _fail("the config has errors:\n" + "\n".join(f"  {p}" for p in exc.problems))
        except Exception as exc:
            if not isinstance(exc, _porch_errors()):
                raise
            _fail(str(exc))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


def _settings(require_secret: bool = True, config: str | None = None) -> Settings:
    settings = Settings.from_env(require_secret=require_secret)
    if config:
        settings = Settings(**{**settings.__dict__, "config_path": Path(config)})
    return settings


def _config(path: Path) -> Config:
    config, warnings = load_config(path)
    for warning in warnings:
        click.echo(f"Warning: {warning}", err=True)
    return config


def _database(settings: Settings) -> Database:
    import sqlalchemy as sa

    try:
        engine = create_engine(settings.database_url)
        # Pooled connections close when the command ends, not when the process does.
        click.get_current_context().call_on_close(engine.dispose)
        migrate(engine)
    except ImportError as exc:
        raise DatabaseError(
            f"PORCH_DATABASE_URL needs the {exc.name or 'database'} driver, which is not installed: "
            "pip install 'porch[postgres]'"
        ) from None
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        raise DatabaseError(
            f"cannot open the database at PORCH_DATABASE_URL ({settings.database_url.split('@')[-1]}): "
            f"{exc.__class__.__name__}: {str(exc.orig if hasattr(exc, 'orig') else exc).strip()}"
        ) from None
    return Database(engine)


def _serve(settings: Settings, config: Config, host: str, port: int) -> None:
    import uvicorn

    from backend.allocator import limit_arenas
    from backend.app import create_app

    limit_arenas()
    app = create_app(settings, config)
    # uvicorn's logging, plus Porch's Stripe log at INFO: each webhook event applied is a line the
    # merchant can find (the rest of Porch logs only what goes wrong).
    loggers = uvicorn.config.LOGGING_CONFIG["loggers"] | {"porch.stripe": {"handlers": ["default"], "level": "INFO"}}
    log_config = uvicorn.config.LOGGING_CONFIG | {"loggers": loggers}
    uvicorn.run(app, host=host, port=port, log_config=log_config, **SERVER_OPTIONS)


class _Commands(click.Group):
    """The commands, with `build` loaded only when it is named or listed: it brings the page renderer
    (Jinja, Babel, the minifiers), which `serve` does not need before its first answer."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "build"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "build":
            from backend.build_cli import build

            return build
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="porch")
def main() -> None:
    """Porch: a self-hosted customer billing portal."""


def _invoked() -> str:
    """How the merchant runs Porch, "porch" or "python -m backend", for the commands a message suggests."""
    return click.get_current_context().find_root().info_name or "porch"


@main.command()
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: PORCH_CONFIG or ./config.yaml).")
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option("--port", default=8000, show_default=True, type=int)
@_converting
def serve(config: str | None, host: str, port: int) -> None:
    """Serve the API under /api/ and, when public/ exists, the built site at /."""
    settings = _settings(config=config)
    portal_config = _config(settings.config_path)
    _database(settings)
    if not settings.public_dir.is_dir():
        click.echo(f"No public/ folder: serving the API only. Run `{_invoked()} build` to build the pages.", err=True)
    _serve(settings, portal_config, host, port)


def _named(counts: dict[str, int]) -> str:
    """Counts by kind in words: "1 product, 2 prices"."""
    return ", ".join(f"{n} {(kind if n != 1 else billing.KINDS[kind][1]).replace('_', ' ')}"
                     for kind, n in counts.items())


def _removed(counts: dict[str, int]) -> str:
    removed = {kind: n for kind, n in counts.items() if n}
    return " Removed " + _named(removed) + "." if removed else ""


@main.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_converting
def import_command(file: Path) -> None:
    """Upsert Stripe-shaped objects from FILE.json into the store; safe to re-run."""
    from backend.importer import import_file

    settings = _settings(require_secret=False)
    imported = import_file(_database(settings), file)
    click.echo("Imported " + _named(imported.written) + "." + _removed(imported.removed))


def _progress() -> Callable[[str, int], None]:
    """Each step's count on stderr: one line a step, rewritten in place on a terminal, a line a page elsewhere."""
    terminal = click.get_text_stream("stderr").isatty()
    last: list[str] = []

    def show(step: str, done: int) -> None:
        if terminal:
            click.echo(("\n" if last and last[-1] != step else "\r") + f"{step}: {done}", err=True, nl=False)
        else:
            click.echo(f"{step}: {done}", err=True)
        last.append(step)

    return show


@main.command()
@click.option("--full", is_flag=True, help="List everything again, not only what changed since the last run.")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: PORCH_CONFIG or ./config.yaml).")
@_converting
def sync(full: bool, config: str | None) -> None:
    """Bring the Stripe account's billing data into the store; an interrupted run continues when run again."""
    import stripe

    from backend import stripe_api, stripe_check, stripe_sync

    settings = _settings(require_secret=False, config=config)
    if _config(settings.config_path).billing.engine != "stripe":
        _fail(f"billing.engine is local in {settings.config_path}: Porch's store is the truth, and a sync would "
              "overwrite it with Stripe's. Set billing: {engine: stripe} to connect Stripe")
    try:
        client = stripe_api.client(settings)
    except stripe_api.NotConfigured as exc:
        _fail(str(exc))
    db = _database(settings)
    progress = _progress()
    try:
        synced = stripe_sync.sync(db, client, full=full, progress=progress)
    except stripe.StripeError as exc:
        _fail(stripe_check.problem(exc, settings, "during the sync")
              + ". What was synced so far is kept: run `python -m backend sync` again to continue")
    except stripe_sync.SyncError as exc:
        _fail(f"cannot store what Stripe sent: {exc}")
    except stripe_sync.SyncBusy as exc:
        _fail(str(exc))
    finally:
        if click.get_text_stream("stderr").isatty():
            click.echo(err=True)
    click.echo(synced.why)
    click.echo(f"Synced {_named(synced.written)} in {synced.seconds:.1f} s." + _removed(synced.removed))


@main.command()
@click.option("--config", type=click.Path(dir_okay=False), help="Config file (default: PORCH_CONFIG or ./config.yaml).")
@_converting
def check(config: str | None) -> None:
    """Validate config.yaml and the environment: database, mail, secret; Stripe's key with billing.engine stripe."""
    from backend.mailer import Transport, check_transport

    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = _settings(config=config)
    except SettingsError as exc:
        problems += exc.problems
        # A bad secret alone still leaves the database and mail to check.
        try:
            settings = _settings(require_secret=False, config=config)
        except SettingsError:
            pass
    config_path = settings.config_path if settings else Path(config or os.environ.get("PORCH_CONFIG") or "config.yaml")
    portal_config: Config | None = None
    try:
        portal_config = _config(config_path)
        click.echo(f"config:   {config_path} is valid")
        if settings is not None:
            signing_secrets(settings, portal_config)
    except ConfigError as exc:
        problems += [str(p) for p in exc.problems]
    except SettingsError as exc:
        problems += exc.problems
    if settings is None:
        problems.append("database and mail: not checked until the settings above are fixed")
        _fail("check found problems:\n" + "\n".join(f"  {p}" for p in problems))
        return
    try:
        _database(settings)
        click.echo("database: reachable, schema up to date")
    except DatabaseError as exc:
        problems.append(str(exc))
    try:
        click.echo("mail:     " + asyncio.run(check_transport(Transport(settings))))
    except Exception as exc:
        problems.append(f"mail: {exc}")
    if portal_config is not None and portal_config.billing.engine == "stripe":
        from backend.stripe_check import problems as stripe_problems

        found = stripe_problems(settings)
        problems += found
        if not found:
            click.echo(f"stripe:   the key lists customers at {settings.stripe_api_base}, webhook secret set")
    if problems:
        _fail("check found problems:\n" + "\n".join(f"  {p}" for p in problems))
    click.echo("All good.")


@main.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(["pending", "sending", "delivered"]), help="Only deliveries in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.pass_context
@_converting
def events(ctx: click.Context, status: str | None, limit: int) -> None:
    """List webhook deliveries, newest first; `events replay EVT_ID` sends one again."""
    if ctx.invoked_subcommand is not None:
        return
    from backend.events import deliveries

    rows = _database(_settings(require_secret=False)).run(deliveries, status, limit, write=False)
    if not rows:
        click.echo("No webhook deliveries" + (f" {status}" if status else "") + ".")
        return
    for row in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["delivered_at"] or row["next_attempt_at"]))
        state = f"{row['status']} {when}" if row["status"] == "delivered" else f"{row['status']}, next try {when}"
        answer = f" last answer {row['last_status']}" if row["last_status"] else ""
        error = f" ({row['last_error']})" if row["last_error"] and row["status"] != "delivered" else ""
        click.echo(f"{row['event_id']}  {row['type']:<36} {row['url']}  {state}, {row['attempts']} tries{answer}{error}")


@events.command()
@click.argument("event_id")
@_converting
def replay(event_id: str) -> None:
    """Queue every delivery of EVENT_ID again; a running backend sends them within seconds."""
    from backend.events import replay as replay_event

    count = _database(_settings(require_secret=False)).run(replay_event, event_id, int(time.time()))
    if not count:
        _fail(f"no webhook deliveries for {event_id}: list them with `python -m backend events`")
    click.echo(f"Queued {count} deliver{'y' if count == 1 else 'ies'} of {event_id} again.")


def _when(at: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) if at is not None else "never"


@main.group()
def keys() -> None:
    """Secret keys for the merchant API (/v1/): create, list, revoke."""


@keys.command(name="create")
@click.option("--name", required=True, help="What the key is for, such as \"billing server\": shown in `keys list`.")
@_converting
def keys_create(name: str) -> None:
    """Make a secret key and print it, once: Porch keeps only a keyed hash of it."""
    settings = _settings()
    made, key = _database(settings).run(api_keys.create, settings.secret_key, name, int(time.time()))
    click.echo(key)
    click.echo(f"Created {made.id} ({made.name}). This is the only time the key is shown: store it now, "
               "as your server's secret.", err=True)


@keys.command(name="list")
@_converting
def keys_list() -> None:
    """Every key: id, name, the key's last characters, created, last used, revoked."""
    found = _database(_settings(require_secret=False)).run(api_keys.listed, write=False)
    if not found:
        click.echo("No API keys. Make one with `python -m backend keys create --name NAME`.")
        return
    for key in found:
        revoked = f"  revoked {_when(key.revoked)}" if key.revoked is not None else ""
        click.echo(f"{key.id}  {key.hint}  {key.name}  created {_when(key.created)}  last used "
                   f"{_when(key.last_used)}{revoked}")


@keys.command(name="revoke")
@click.argument("key_id")
@_converting
def keys_revoke(key_id: str) -> None:
    """Refuse the key KEY_ID from now on (its id from `keys list`)."""
    revoked = _database(_settings(require_secret=False)).run(api_keys.revoke, key_id, int(time.time()))
    click.echo(f"Revoked {revoked.id} ({revoked.name}) at {_when(revoked.revoked)} UTC.")


@main.command()
@click.option("--customer", help="Only this customer's entries (a cus_... id).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@_converting
def audit(customer: str | None, limit: int) -> None:
    """List what customers changed, newest first: when, who, what, from where."""
    from backend.events import audit_entries

    entries = _database(_settings(require_secret=False)).run(audit_entries, customer, limit, write=False)
    if not entries:
        click.echo("No changes recorded" + (f" for {customer}" if customer else "") + ".")
    for entry in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry["at"]))
        click.echo(f"{when}  {entry['customer']}  {entry['action']:<36} {entry['object_id']}  "
                   f"from {entry['client']}  {entry['event']}  {entry['detail']}")


@main.command()
@click.argument("target", type=click.Choice([*PRINTED, *WRITTEN]))
@click.option("--site", help="The portal's address, such as https://billing.acme.example, or :8080 (default: login_link.url).")
@click.option("--backend", help="caddy, nginx: HOST:PORT where `serve` listens (default 127.0.0.1:8000). netlify, cloudflare: "
              "the backend's https:// address as the platform reaches it, such as https://api.billing.acme.example (required).")
@click.option("--public", default="public", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="The built site, as the build command wrote it.")
@click.option("--config", type=click.Path(dir_okay=False), help="Config file for login_link.url (default: PORCH_CONFIG or ./config.yaml).")
@_converting
def deploy(target: str, site: str | None, backend: str | None, public: Path, config: str | None) -> None:
    """Serve public/ with every header of its _headers file and forward /api/ and /v1/ to the backend: print
    a web server's configuration (caddy, nginx), or write a CDN's files into public/ (netlify, cloudflare)."""
    cdn = target in WRITTEN
    if backend is None:
        if cdn:
            _fail(f"--backend is required for {target}: the backend's https:// address as {target.title()} reaches it, "
                  "such as https://api.billing.acme.example")
        backend = "127.0.0.1:8000"
    if site is None:
        config_path = _settings(require_secret=False, config=config).config_path
        site = _config(config_path).login_link.url
        if not site:
            _fail(f"login_link.url is not set in {config_path}: set it, or name the portal's address with --site")
    command = f"{_invoked()} deploy {target} --site {site} --backend {backend} --public {public.resolve()}"
    made = deployment(public, site, backend, command, cdn=cdn)
    if not cdn:
        click.echo(PRINTED[target](made), nl=False)
        return
    files = WRITTEN[target](made)
    for name, text in files.items():
        (made.public / name).write_text(text)
    click.echo(f"Wrote {', '.join(files)} into {made.public}. Publish it with: {PUBLISH[target].format(public=made.public)}")


@main.group()
def stripe() -> None:
    """Connect Porch to the merchant's Stripe account (billing.engine stripe)."""


@stripe.command()
@click.option("--url", required=True, help="Where Stripe sends events: the portal's https:// address + /api/stripe/webhook.")
@_converting
def webhook(url: str) -> None:
    """Register Porch's webhook endpoint in Stripe, for exactly the events Porch reads, and print its secret."""
    from backend import stripe_api, stripe_webhooks
    from backend.errors import APIError

    try:
        registered = stripe_webhooks.register(stripe_api.client(_settings(require_secret=False)), url)
    except stripe_webhooks.WebhookURLError as exc:
        _fail(str(exc))
    except APIError as exc:
        _fail(f"Stripe did not register the endpoint: {exc.__cause__ or exc.message}")
    events = len(stripe_webhooks.EVENTS)
    if not registered.created:
        click.echo(f"An endpoint for {url} exists already ({registered.id}): it now sends the {events} events Porch "
                   "reads. Its signing secret is unchanged: keep PORCH_STRIPE_WEBHOOK_SECRET as it is (the Stripe "
                   "Dashboard shows it under Developers, Webhooks).")
        return
    click.echo(f"Registered {registered.id} for {url}, sending the {events} events Porch reads. Set its signing "
               f"secret in the backend's environment, then restart it:\n\n  PORCH_STRIPE_WEBHOOK_SECRET={registered.secret}")


@main.command()
def schema() -> None:
    """Print the JSON Schema of config.yaml (for editors)."""
    click.echo(json.dumps(json_schema(), indent=2))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help=HOST_HELP)
@click.option("--port", default=8000, show_default=True, type=int)
@_converting
def demo(host: str, port: int) -> None:
    """Build the sample site, fill a SQLite file with demo data and serve it; mail goes to the console."""
    from backend.demo import DEMO_EMAIL, demo_objects
    from backend.pages import build_site

    home = Path(".porch")
    environ = {
        "PORCH_CONFIG": str(SAMPLE_CONFIG),
        "PORCH_DATABASE_URL": f"sqlite:///{(home / 'demo.db').resolve()}",
        "PORCH_SECRET_KEY": secrets.token_urlsafe(48),
        "PORCH_OUTBOX_DIR": os.environ.get("PORCH_OUTBOX_DIR", str(home / "outbox")),
    }
    settings = Settings.from_env(environ)
    settings = Settings(**{**settings.__dict__, "public_dir": home / "public"})
    config = _config(settings.config_path)
    build_site(config, settings.config_path.parent, SITE_DIR, settings.public_dir)
    db = _database(settings)
    objects = demo_objects(int(time.time()))
    db.run(lambda conn: [billing.upsert(conn, kind, objects[kind]) for kind in billing.KINDS])
    # A wildcard is no address to open, and an IPv6 one is written in brackets in a URL.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/login/?prefilled_email=" + DEMO_EMAIL.replace("@", "%40")
    click.echo(
        f"Porch demo: {len(objects['customers'])} customers in {home / 'demo.db'}; mail goes to this console "
        f"and to {settings.outbox_dir}/.\n\n  Sign in at {url}\n"
    )
    _serve(settings, config, host, port)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
