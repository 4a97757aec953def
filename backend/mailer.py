"""Mail: a durable queue in the database, a worker that drains it, and delivery
over SMTP or, without PORCH_SMTP_URL, to the outbox (console and .eml files)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
from collections.abc import Callable
from email.header import Header
from email.message import Message
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio
import sqlalchemy as sa

from backend import emails, jobs, keys
from backend.config import Config
from backend.i18n import translations
from backend.settings import Settings
from backend.signin import CODE_LIFETIME
from backend.store import billing
from backend.store.database import Database
from backend.store.tables import mail_queue

log = logging.getLogger("porch.mail")


class MailError(Exception):
    """Delivery failed; the job stays queued and is tried again later."""


def header_safe(value: str) -> str:
    # Python's email package breaks a header's lines at U+0085, U+2028 and U+2029 as at CR and LF,
    # so one of them in a value (say, the business name) would make every code mail fail to build.
    for c in value:
        if unicodedata.category(c) in ("Cc", "Zl", "Zp"):
            raise MailError(f"refusing a header value with a line break or control character (U+{ord(c):04X})")
    return value


def _encoded(value: str) -> str | Header:
    """A header's text, in an RFC 2047 encoded word when it is not ASCII."""
    return value if value.isascii() else Header(value, "utf-8")


def _sender(value: str) -> str:
    """config.yaml's `email.from` ("Name <address>"), its name encoded where it needs to be and its domain in ASCII."""
    name, address = parseaddr(value)
    return formataddr((name, emails.ascii_form(address)), charset="utf-8")


def signin_message(config: Config, to: str, code: str, locale: str) -> Message:
    """The code mail. Built with the email package's compat32 API, which stores a header as it is given: the
    default policy parses every header it is given and made each code mail cost 350 µs of CPU, where this costs
    30 µs. Every code request has one built, for a customer's address or not (see MailWorker.handle)."""
    _ = translations(locale).gettext
    business = config.business.name or _("your account")
    message: Message[str, Any] = Message()
    message["From"] = _sender(header_safe(config.email.from_))
    message["To"] = _encoded(header_safe(emails.ascii_form(to)))
    message["Subject"] = _encoded(header_safe(
        _("Your sign-in code for %(business)s: %(code)s") % {"business": business, "code": code}))
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="porch.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message["MIME-Version"] = "1.0"
    lines = [
        _("Your sign-in code is:"),
        "",
        f"    {code}",
        "",
        _("It is valid for %(minutes)d minutes and works once.") % {"minutes": CODE_LIFETIME // 60},
        _("If you did not ask for it, you can ignore this message: nobody can sign in without the code."),
    ]
    if config.business.support_email:
        lines += ["", _("Questions? Write to %(address)s.") % {"address": config.business.support_email}]
    text = "\n".join(lines) + "\n"
    message.set_payload(text, "us-ascii" if text.isascii() else "utf-8")
    return message


def text_of(message: Message) -> str:
    """A message's text as the reader sees it, decoded from its transfer encoding and charset."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)  # a single part, as signin_message makes it
    return payload.decode(message.get_content_charset() or "us-ascii")


def smtp_params(smtp_url: str) -> dict[str, Any]:
    """aiosmtplib's arguments from PORCH_SMTP_URL: smtp:// is plain, smtps:// TLS, smtp+starttls:// upgrades."""
    url = urlsplit(smtp_url)
    return {
        "hostname": url.hostname or "localhost",
        "port": url.port or (465 if url.scheme == "smtps" else 587 if url.scheme == "smtp+starttls" else 25),
        "username": unquote(url.username) if url.username else None,
        "password": unquote(url.password) if url.password else None,
        "use_tls": url.scheme == "smtps",
        "start_tls": url.scheme == "smtp+starttls",
        "timeout": 15,
    }


class Transport:
    """Hands a message to SMTP, or writes it to the outbox when no SMTP server is set."""

    def __init__(self, settings: Settings, echo: Callable[[str], None] = print):
        self.smtp_url = settings.smtp_url
        self.outbox = settings.outbox_dir
        self.echo = echo

    async def send(self, message: Message) -> None:
        """Delivers in a thread of its own: only customers' addresses get mail, so a delivery on the
        event loop would slow the requests served meanwhile, and tell them which addresses are customers'.
        A stop does not wait for a delivery that hangs; the thread ends at the SMTP timeout."""
        await anyio.to_thread.run_sync(self._deliver, message, abandon_on_cancel=True)

    def _deliver(self, message: Message) -> None:
        if self.smtp_url:
            asyncio.run(self._smtp(message))
        else:
            self._outbox(message)

    async def _smtp(self, message: Message) -> None:
        import aiosmtplib

        params = smtp_params(self.smtp_url or "")
        try:
            await aiosmtplib.send(message, **params)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {params['hostname']}:{params['port']}: {exc}") from exc

    def _outbox(self, message: Message) -> None:
        self.outbox.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.eml"
        path = self.outbox / name
        path.write_bytes(bytes(message))
        self.echo(
            f"\n--- mail to {message['To']} ({path}) ---\nSubject: {message['Subject']}\n\n"
            f"{text_of(message).rstrip()}\n---"
        )


def recipient(conn: sa.Connection, email: str) -> dict[str, Any] | None:
    """The customer a code for this address is mailed to, found with the same two queries when there is none."""
    return billing.get(conn, "customers", billing.customer_for_email(conn, email) or "")


class MailWorker(jobs.Worker):
    """Drains the mail queue: resolves each code request to a customer and mails them, or drops it."""

    table = mail_queue
    name = "mail queue"

    def __init__(
        self, db: Database, transport: Transport, config: Config, secret: bytes, clock: Callable[[], float] = time.time
    ):
        super().__init__(db, clock)
        self.transport = transport
        self.config = config
        self.secret = secret

    async def handle(self, job: Any, now: int) -> None:
        if job.expires_at <= now:
            await self.finish(job, {"status": "expired", "sealed": ""})
            return
        # cryptography (7 ms) and aiosmtplib load with the first mail, not with every start.
        from cryptography.fernet import InvalidToken

        try:
            payload = json.loads(keys.sealer(self.secret).decrypt(job.sealed.encode()))
        except InvalidToken:  # sealed under an earlier PORCH_SECRET_KEY: it can never be opened
            await self.finish(job, {"status": "dropped", "sealed": ""})
            return
        # The same reads, the same message and the same write for every address: only the delivery
        # differs, and it runs off the event loop, so no request served meanwhile can tell the two apart.
        customer = await self.db.read(recipient, payload["to"])
        try:
            message = signin_message(self.config, customer["email"] if customer else payload["to"],
                                     payload["code"], payload["locale"])
            if customer:
                await self.transport.send(message)
        except (MailError, ValueError) as exc:
            attempts = job.attempts + 1
            log.warning("mail %s: attempt %d failed: %s", job.id, attempts, exc)
            await self.finish(job, {"status": "pending", "attempts": attempts, "last_error": str(exc)[:500],
                                    "next_attempt_at": now + jobs.backoff(attempts, 300)})
            return
        # Without a customer nothing is sent, and the code waits nowhere.
        await self.finish(job, {"status": "sent" if customer else "dropped", "sealed": ""})


async def check_transport(transport: Transport) -> str:
    """Says where mail goes, after making sure it can get there."""
    if not transport.smtp_url:
        transport.outbox.mkdir(parents=True, exist_ok=True)
        return f"outbox {transport.outbox} (no PORCH_SMTP_URL set)"
    params = smtp_params(transport.smtp_url)
    username, password = params.pop("username"), params.pop("password")
    import aiosmtplib

    client = aiosmtplib.SMTP(**params)
    try:
        await client.connect()
        if username:
            await client.login(username, password or "")
        await client.quit()
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"cannot reach SMTP at {params['hostname']}:{params['port']}: {exc}") from exc
    finally:
        client.close()  # a refused login leaves the connection open; quit() never ran
    return f"SMTP {params['hostname']}:{params['port']} answers"
