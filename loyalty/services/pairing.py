"""Pairing a counter tablet with a store through a one-time code.

A manager asks the admin for a code (`create_pairing_code`); the tablet sends it from its
pairing page (`redeem_pairing_code`) and gets a new terminal key for the store. The key is
made at redemption, so its clear text only ever reaches the paired tablet. A code is 8
characters from an alphabet without look-alikes (no 0/O, 1/I/L), valid for 10 minutes,
single use, and stored as a keyed digest: a copy of the table holds no usable code.
"""

import datetime
import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from loyalty.errors import PairingCodeExpired, PairingCodeInvalid, PairingCodeUsed
from loyalty.models import PairingCode, TerminalKey
from merchants.models import Store

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 8
VALID_FOR = datetime.timedelta(minutes=10)


def _digest(code: str) -> str:
    # Keyed with DJANGO_SECRET_KEY: 8 characters are too few to survive a brute force of a
    # plain hash. A code lives 10 minutes, so rotating the secret needs no fallback here.
    return salted_hmac("loyalty.pairing-code", code, algorithm="sha256").hexdigest()


def normalize(raw: str) -> str | None:
    """The code as issued for what a person typed (any case, spaces or dashes between the
    groups), or None if it cannot be a code."""
    code = "".join((raw or "").split()).replace("-", "").upper()
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def create_pairing_code(
    *, store: Store, terminal_name: str, created_by=None
) -> tuple[PairingCode, str]:
    """A new pairing code for a tablet of `store`; the code itself is returned once."""
    now = timezone.now()
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        # Codes are never reused, even long after they expired: one lookup by digest must
        # find one row.
        if not PairingCode.objects.filter(code_digest=_digest(code)).exists():
            break
    pairing = PairingCode.objects.create(
        store=store,
        terminal_name=terminal_name,
        code_digest=_digest(code),
        created_by=created_by,
        created_at=now,
        expires_at=now + VALID_FOR,
    )
    return pairing, code


def redeem_pairing_code(*, code: str) -> tuple[TerminalKey, str]:
    """Redeem a pairing code: a new terminal key for its store, returned in clear once."""
    normalized = normalize(code)
    if normalized is None:
        raise PairingCodeInvalid()
    now = timezone.now()
    with transaction.atomic():
        # Lock first: without it two tablets sending the same code could both be paired.
        pairing = (
            PairingCode.objects.select_for_update()
            .select_related("store__merchant")
            .filter(code_digest=_digest(normalized))
            .first()
        )
        if pairing is None or pairing.store.deleted_at or pairing.store.merchant.deleted_at:
            raise PairingCodeInvalid()
        if pairing.redeemed_at is not None:
            raise PairingCodeUsed()
        if pairing.expires_at <= now:
            raise PairingCodeExpired()
        terminal_key, key = TerminalKey.objects.create_key(
            name=pairing.terminal_name, store=pairing.store
        )
        pairing.redeemed_at = now
        pairing.terminal_key = terminal_key
        pairing.save(update_fields=["redeemed_at", "terminal_key"])
    return terminal_key, key
