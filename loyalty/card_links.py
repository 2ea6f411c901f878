"""The customer's link to their card: `/card/<signed token>/` (the customer page).

The token is the card's random link key (never its id or number) with a timestamp, signed
with SECRET_KEY (and accepted under its fallbacks while a key rotates out): it cannot be
guessed, nor altered to reach another card. It expires CARD_LINK_MAX_AGE_DAYS after it was
made; every email carries a fresh one, and `/card/lost/` sends a new one on request.
"""

import datetime
import uuid

from django.conf import settings
from django.core import signing

from loyalty.models import Card

_SALT = "loyalty.card-link"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def card_token(link_key: uuid.UUID) -> str:
    return _signer().sign(link_key.hex)


def link_key_from_token(token: str) -> uuid.UUID | None:
    """The link key the token was made for; None for a tampered, foreign or expired token."""
    max_age = datetime.timedelta(days=settings.CARD_LINK_MAX_AGE_DAYS)
    try:
        return uuid.UUID(hex=_signer().unsign(token, max_age=max_age))
    except (signing.BadSignature, ValueError):
        return None


def card_from_token(token: str) -> Card | None:
    """The live card the token leads to, with its programme, merchant and customer; None for
    a bad or expired token, and for a card trashed or whose customer was anonymised."""
    link_key = link_key_from_token(token)
    if link_key is None:
        return None
    return (
        Card.objects.select_related("program__merchant", "customer")
        .defer("program__merchant__logo")
        .filter(
            link_key=link_key,
            customer__isnull=False,
            customer__anonymized_at__isnull=True,
            program__merchant__deleted_at__isnull=True,
        )
        .first()
    )


def card_path(link_key: uuid.UUID) -> str:
    return f"/card/{card_token(link_key)}/"


def card_url(link_key: uuid.UUID) -> str:
    return f"{settings.SITE_URL}{card_path(link_key)}"
