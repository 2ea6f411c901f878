"""Staff PIN digests. A PIN is 4 to 8 digits; it is stored as an HMAC keyed with a server
secret, not a slow password hash: PINs are checked on every terminal call, and what protects
them is the lockout after wrong attempts, not the cost of the hash."""

import hashlib
import hmac
import re

from django.conf import settings

PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")


def is_well_formed(pin: str) -> bool:
    return isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) is not None


def pin_digest(pin: str) -> str:
    return hmac.new(settings.PIN_SECRET.encode(), pin.encode(), hashlib.sha256).hexdigest()
