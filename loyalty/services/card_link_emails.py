"""The card-link emails the customer pages send: to someone who tries to enrol with an address
that already has a card, and to whoever asks for their link at /card/lost/.

Both go only to the address that holds the card, so the pages can answer the same whatever
the address: the link itself never appears on a page.
"""

from django.db import transaction
from django.db.models.functions import Lower

from customers.models import Customer
from customers.services import normalize_email
from loyalty import emails
from loyalty.models import Card, Program
from merchants.models import Store
from messaging.services import queue_email, queue_emails

# More cards under one address than anyone holds: a bound on one request's emails.
MAX_LOST_LINK_CARDS = 10


def _customers_with_email(email: str):
    # Lower(email) = ..., as the unique index (lower(email), merchant) is built: it is used.
    return Customer.objects.annotate(email_lower=Lower("email")).filter(
        email_lower=normalize_email(email).lower(), anonymized_at__isnull=True
    )


def send_link_to_enrolled_customer(*, program: Program, store: Store, email: str) -> Card | None:
    """Queue the "already enrolled" email with the link to the card that stopped `email`'s
    enrolment in `program` at `store` (enroll_customer's AlreadyEnrolled). None, and nothing
    queued, when there is no such card."""
    cards = Card.objects.filter(
        program=program,
        customer__in=_customers_with_email(email).filter(merchant=program.merchant_id),
    )
    if not program.allow_cross_location_redemption:
        cards = cards.filter(enrolled_store=store)
    card = cards.select_related("program__merchant", "customer").order_by("pk").first()
    if card is None:
        return None
    with transaction.atomic():
        queue_email(emails.card_email(card, emails.ALREADY_ENROLLED))
    return card


def send_lost_card_links(*, email: str) -> int:
    """Queue one card-link email for each live card held under `email`, at every merchant
    (at most MAX_LOST_LINK_CARDS). Returns how many were queued: 0 for an unknown address."""
    cards = (
        Card.objects.filter(
            customer__in=_customers_with_email(email),
            program__deleted_at__isnull=True,
            program__merchant__deleted_at__isnull=True,
        )
        .select_related("program__merchant", "customer")
        .order_by("pk")[:MAX_LOST_LINK_CARDS]
    )
    with transaction.atomic():
        return queue_emails([emails.card_email(card, emails.CARD_LINK) for card in cards])
