"""The two spellings of an email address whose domain is not all ASCII: Unicode (user@bücher.de)
and ASCII, the domain in IDNA "punycode" (user@xn--bcher-kva.de). Both name one mailbox, so a
customer stored under either is found by either, and mail goes to the ASCII one, which every
mail server takes; an encoded Unicode `To:` is one that none delivers."""

from __future__ import annotations

from email_validator import EmailNotValidError, ValidatedEmail, validate_email


def _validated(address: str) -> ValidatedEmail | None:
    try:
        return validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None


def lookup_forms(address: str) -> list[str]:
    """Every lower-cased spelling that a customer with this address may be stored under."""
    plain = address.strip().lower()
    if plain.isascii() and "xn--" not in plain:
        return [plain]  # one spelling only, as most addresses have: no need to parse it
    valid = _validated(plain)
    if valid is None:
        return [plain]
    return sorted({plain} | {f"{valid.local_part}@{domain}".lower() for domain in (valid.domain, valid.ascii_domain)})


def ascii_form(address: str) -> str:
    """The address to mail: its domain in ASCII; left as it is when it is ASCII already or no valid address."""
    if address.isascii():
        return address
    valid = _validated(address)
    return address if valid is None else f"{valid.local_part}@{valid.ascii_domain}"
