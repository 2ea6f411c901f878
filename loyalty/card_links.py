"""The customer's link to their card: `/card/<signed token>/` (the customer page).

The token is the card's id signed with SECRET_KEY (and accepted under its fallbacks while a
key rotates out), so a link cannot be guessed from a card number nor altered to reach another
card. It does not expire: it is printed in every email the customer keeps.
"""

from django.conf import settings
from django.core import signing

_SALT = "loyalty.card-link"


def card_token(card_id: int) -> str:
    return signing.Signer(salt=_SALT).sign(str(card_id))


def card_id_from_token(token: str) -> int | None:
    """The card id the token was signed for; None for a tampered or foreign token."""
    try:
        return int(signing.Signer(salt=_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None


def card_path(card_id: int) -> str:
    return f"/card/{card_token(card_id)}/"


def card_url(card_id: int) -> str:
    return f"{settings.SITE_URL}{card_path(card_id)}"
