"""The loyalty emails: their codes, the plain data each is sent with, and sample data for the
template editor (registered with messaging when the app starts).

Every context carries the card's link (`card_url`); the marketing emails (birthday,
re-engagement) also get `unsubscribe_url`, which messaging adds when it sends them.
"""

from loyalty import card_links, card_numbers
from loyalty.models import Card
from messaging.rendering import register_sample
from messaging.services import EmailRequest

ENROLLMENT = "loyalty_enrollment"
WELCOME_BONUS = "loyalty_welcome_bonus"
REWARD_READY = "loyalty_reward_ready"
POINTS_EXPIRING = "loyalty_points_expiring"
POINTS_EXPIRED = "loyalty_points_expired"
BIRTHDAY = "loyalty_birthday"
REENGAGEMENT = "loyalty_reengagement"
# Sent by the customer pages: the card link of someone who tried to enrol again, and the
# card link asked for at /card/lost/.
ALREADY_ENROLLED = "loyalty_already_enrolled"
CARD_LINK = "loyalty_card_link"
MARKETING = frozenset({BIRTHDAY, REENGAGEMENT})


def card_context(card: Card) -> dict:
    """The plain data about a card that every card email gets (card with its programme,
    merchant and customer)."""
    program = card.program
    return {
        "first_name": card.customer.first_name if card.customer else "",
        "merchant_name": program.merchant.name,
        "program_name": program.name,
        "card_number": card_numbers.display(card.number),
        "card_url": card_links.card_url(card.link_key),
        "points_balance": card.points_balance,
        "stamp_count": card.stamp_count,
        "stamps_target": program.stamps_target,
        "reward_description": program.reward_description,
    }


def card_email(card: Card, code: str, **extra) -> EmailRequest:
    customer = card.customer
    return EmailRequest(
        merchant_id=card.program.merchant_id,
        customer_id=customer.pk,
        store_id=card.enrolled_store_id,
        to=customer.email,
        template=code,
        locale=customer.locale,
        is_marketing=code in MARKETING,
        context={**card_context(card), **extra},
        card_id=card.pk,
    )


_CARD_SAMPLE = {
    "first_name": "Nina",
    "merchant_name": "Alice's Bakery",
    "program_name": "Bakery Rewards",
    "card_number": "4012 8888 8881",
    "card_url": "https://loyalty.example.com/card/sample-token/",
    "points_balance": 120,
    "stamp_count": 10,
    "stamps_target": 10,
    "reward_description": "a free coffee",
}
_SHORT_SAMPLE = {
    key: _CARD_SAMPLE[key]
    for key in ("first_name", "merchant_name", "program_name", "card_number", "card_url")
}
_UNSUBSCRIBE_SAMPLE = {"unsubscribe_url": "https://loyalty.example.com/email/unsubscribe/sample/"}

SAMPLE_CONTEXTS = {
    ENROLLMENT: _CARD_SAMPLE,
    WELCOME_BONUS: {**_CARD_SAMPLE, "welcome_bonus_points": 50},
    REWARD_READY: _CARD_SAMPLE,
    # Expiry works set-based on card rows, so its emails carry less.
    POINTS_EXPIRING: {**_SHORT_SAMPLE, "points_balance": 120, "expires_on": "2026-03-01"},
    POINTS_EXPIRED: {**_SHORT_SAMPLE, "points_expired": 120, "expired_on": "2026-03-01"},
    BIRTHDAY: {**_CARD_SAMPLE, **_UNSUBSCRIBE_SAMPLE},
    REENGAGEMENT: {**_CARD_SAMPLE, "days_inactive": 75, **_UNSUBSCRIBE_SAMPLE},
    ALREADY_ENROLLED: _CARD_SAMPLE,
    CARD_LINK: _CARD_SAMPLE,
}


def register_samples() -> None:
    for code, context in SAMPLE_CONTEXTS.items():
        register_sample(code, context)
