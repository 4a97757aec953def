"""What the server secret keys: HMACs of codes and tokens, and the seal on queued mail."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def digest(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of a value, separated by purpose so that one kind of token never verifies as another."""
    return hmac.new(secret, f"{purpose}\0{value}".encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def token() -> str:
    """An opaque token of 256 random bits."""
    return secrets.token_urlsafe(32)


@functools.lru_cache(maxsize=4)
def sealer(secret: bytes) -> Fernet:
    """Queued mail holds a code until it is sent; it waits encrypted, never in clear.

    Made once per secret: making it cost a code request as much as sealing with it. Its library loads
    here, with the first code asked for or mail sent, not with every start (7 ms)."""
    from cryptography.fernet import Fernet

    key = hmac.new(secret, b"porch mail queue", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))
