"""Terminal authentication: `Authorization: Api-Key <key>`, one key per terminal.

Only the key's SHA-512 digest is stored (djangorestframework-api-key). A key is looked up by
its prefix together with its store and merchant in one query, and each process keeps what it
found for KEY_CACHE_SECONDS: terminals call many times a minute, and the key, store and
merchant rarely change. The trade-off: revoking a key, trashing its store, or suspending or
lifting the suspension of a key, takes effect within that time (PIN checks read the
suspension fresh). The presented key is checked against the digest on every call.
"""

import re
import time

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework_api_key.permissions import KeyParser

from loyalty.errors import TerminalSuspended
from loyalty.models import TerminalKey

# What KeyGenerator issues: an 8-character prefix, a dot, the secret. Checking the shape
# first keeps arbitrary bytes out of the query.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{1,100}")
KEY_CACHE_SECONDS = 10
# prefix -> (monotonic expiry, TerminalKey with store and merchant). Only keys that exist
# are kept, so guessing prefixes cannot grow it.
_known_keys: dict[str, tuple[float, TerminalKey]] = {}


def forget_cached_keys() -> None:
    _known_keys.clear()


def _usable_key(prefix: str) -> TerminalKey | None:
    now = time.monotonic()
    cached = _known_keys.get(prefix)
    if cached is not None and cached[0] > now:
        return cached[1]
    terminal_key = (
        TerminalKey.objects.get_usable_keys()
        .select_related("store__merchant")
        .filter(prefix=prefix)
        .first()
    )
    if terminal_key is None:
        _known_keys.pop(prefix, None)
    else:
        _known_keys[prefix] = (now + KEY_CACHE_SECONDS, terminal_key)
    return terminal_key


class TerminalKeyAuthentication(BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        key = KeyParser().get(request)
        if key is None:
            return None
        key = key.strip()
        if not _KEY_SHAPE.fullmatch(key):
            raise AuthenticationFailed("Invalid API key.")
        terminal_key = _usable_key(key.partition(".")[0])
        if (
            terminal_key is None
            # The check alone: is_valid() would also save the (possibly cached) row.
            or not TerminalKey.objects.key_generator.verify(key, terminal_key.hashed_key)
            or terminal_key.has_expired
            or terminal_key.store.deleted_at is not None
            or terminal_key.store.merchant.deleted_at is not None
        ):
            raise AuthenticationFailed("Invalid API key.")
        if terminal_key.suspended_at is not None:
            raise TerminalSuspended()
        return (None, terminal_key)

    def authenticate_header(self, request):
        return self.keyword


class HasTerminalKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, TerminalKey)
