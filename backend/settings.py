"""Settings from the environment, read in one place (SPEC section 3)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# name, default, help: the one table of settings, also shown by `python -m backend check`.
SETTINGS = (
    ("PORCH_CONFIG", "./config.yaml", "path of the config file"),
    ("PORCH_DATABASE_URL", "sqlite:///porch.db", "sqlite:///path or postgresql://..."),
    ("PORCH_SECRET_KEY", None, "server secret (at least 32 bytes) for code and session hashing"),
    ("PORCH_SMTP_URL", None, "smtp://user:pass@host:port, smtps://... or smtp+starttls://...; unset: outbox"),
    ("PORCH_OUTBOX_DIR", "./.porch/outbox", "where outbox mail is written as .eml files"),
    ("PORCH_TRUSTED_PROXIES", "", "comma-separated addresses or networks whose X-Forwarded-For is believed"),
    ("PORCH_STRIPE_SECRET_KEY", None, "billing.engine stripe: the account's secret (sk_) or restricted (rk_) key"),
    ("PORCH_STRIPE_WEBHOOK_SECRET", None, "billing.engine stripe: the webhook endpoint's signing secret (whsec_)"),
    ("PORCH_STRIPE_API_BASE", "https://api.stripe.com", "billing.engine stripe: Stripe's API address (tests: an emulator)"),
)
SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")


class SettingsError(Exception):
    """Settings are missing or malformed; `problems` names each one and its fix."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Settings:
    config_path: Path
    database_url: str
    secret_key: bytes
    smtp_url: str | None
    outbox_dir: Path
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(default=())
    public_dir: Path = Path("public")
    stripe_secret_key: str | None = field(default=None, repr=False)
    stripe_webhook_secret: str | None = field(default=None, repr=False)
    stripe_api_base: str = "https://api.stripe.com"
    # Secrets the config names by variable (webhook signing keys): read from here, never from os.environ.
    named_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    def secret(self, name: str) -> bytes:
        value = self.named_secrets.get(name)
        if not value:
            raise SettingsError([f"{name} is unset: the config names it as a signing secret; set it in the environment"])
        return value.encode()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, require_secret: bool = True) -> Settings:
        def get(name: str) -> str | None:
            default = next(d for n, d, _ in SETTINGS if n == name)
            return environ.get(name) or default

        problems = []
        secret = (get("PORCH_SECRET_KEY") or "").encode()
        if require_secret and len(secret) < 32:
            problems.append(
                "PORCH_SECRET_KEY is " + ("unset" if not secret else f"only {len(secret)} bytes")
                + ": set it to at least 32 random bytes, for example with\n"
                '  export PORCH_SECRET_KEY="$(python -c \'import secrets; print(secrets.token_urlsafe(48))\')"'
            )
        database_url = get("PORCH_DATABASE_URL") or ""
        if not database_url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            problems.append(
                f"PORCH_DATABASE_URL {database_url!r} is not supported: use sqlite:///path/to/file.db "
                "or postgresql://user@host/dbname"
            )
        smtp_url = get("PORCH_SMTP_URL")
        if smtp_url and urlsplit(smtp_url).scheme not in SMTP_SCHEMES:
            problems.append(
                f"PORCH_SMTP_URL must start with one of {', '.join(s + '://' for s in SMTP_SCHEMES)}"
            )
        proxies = []
        for item in filter(None, (p.strip() for p in (get("PORCH_TRUSTED_PROXIES") or "").split(","))):
            try:
                proxies.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                problems.append(
                    f"PORCH_TRUSTED_PROXIES has {item!r}, which is not an IP address or network such as 10.0.0.0/8"
                )
        if problems:
            raise SettingsError(problems)
        return cls(
            config_path=Path(get("PORCH_CONFIG") or "config.yaml"),
            database_url=database_url,
            secret_key=secret,
            smtp_url=smtp_url,
            outbox_dir=Path(get("PORCH_OUTBOX_DIR") or ".porch/outbox"),
            trusted_proxies=tuple(proxies),
            stripe_secret_key=get("PORCH_STRIPE_SECRET_KEY"),
            stripe_webhook_secret=get("PORCH_STRIPE_WEBHOOK_SECRET"),
            stripe_api_base=(get("PORCH_STRIPE_API_BASE") or "https://api.stripe.com").rstrip("/"),
            named_secrets={k: v for k, v in environ.items() if v},
        )
