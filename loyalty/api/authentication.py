"""Terminal authentication: `Authorization: Api-Key <key>`, one key per terminal.

Only the key's SHA-512 digest is stored (djangorestframework-api-key). A key is looked up by
its prefix together with its store and merchant in one query, so the rest of the request
needs no other query to know where it is.
"""

import re

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework_api_key.permissions import KeyParser

from loyalty.models import TerminalKey

# What KeyGenerator issues: an 8-character prefix, a dot, the secret. Checking the shape
# first keeps arbitrary bytes out of the query.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{1,100}")


class TerminalKeyAuthentication(BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request):
        key = KeyParser().get(request)
        if key is None:
            return None
        key = key.strip()
        if not _KEY_SHAPE.fullmatch(key):
            raise AuthenticationFailed("Invalid API key.")
        terminal_key = (
            TerminalKey.objects.get_usable_keys()
            .select_related("store__merchant")
            .filter(prefix=key.partition(".")[0])
            .first()
        )
        if (
            terminal_key is None
            or not terminal_key.is_valid(key)
            or terminal_key.has_expired
            or terminal_key.store.deleted_at is not None
            or terminal_key.store.merchant.deleted_at is not None
        ):
            raise AuthenticationFailed("Invalid API key.")
        return (None, terminal_key)

    def authenticate_header(self, request):
        return self.keyword


class HasTerminalKey(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, TerminalKey)
