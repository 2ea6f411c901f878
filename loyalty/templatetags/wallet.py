"""`{% wallet_save_path card as path %}`: the card's "Add to Google Wallet" address, or an
empty string when the wallet is off or the card is not live (the button then hides)."""

from django import template
from django.urls import reverse

from loyalty import card_links
from loyalty.models import Card
from loyalty.wallet import config

register = template.Library()


@register.simple_tag
def wallet_save_path(card: Card) -> str:
    if not config.is_enabled() or not card.is_active or card.deleted_at is not None:
        return ""
    return reverse("card-wallet", args=[card_links.card_token(card.link_key)])
