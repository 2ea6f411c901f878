"""Staff PIN digests. A PIN is 4 to 8 digits; it is stored as an HMAC keyed with a server
secret, not a slow password hash: PINs are checked on every terminal call, and what protects
them is the lockout after wrong attempts, not the cost of the hash.

`PIN_SECRET` rotates like Django's `SECRET_KEY`: the old secret moves to
`PIN_SECRET_FALLBACKS`, where a PIN stored under it still opens, and the PIN is re-keyed with
the new secret on its next right entry."""

import hashlib
import hmac
import re

from django.conf import settings

PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")


def is_well_formed(pin: str) -> bool:
    return isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) is not None


def _hmac(secret: str, pin: str) -> str:
    return hmac.new(secret.encode(), pin.encode(), hashlib.sha256).hexdigest()


def pin_digest(pin: str) -> str:
    """The digest a PIN is stored as: keyed with the current secret."""
    return _hmac(settings.PIN_SECRET, pin)


def pin_digests(pin: str) -> list[str]:
    """Every digest the PIN may be stored as: the current secret's first, then the fallbacks'."""
    return [_hmac(secret, pin) for secret in [settings.PIN_SECRET, *settings.PIN_SECRET_FALLBACKS]]
