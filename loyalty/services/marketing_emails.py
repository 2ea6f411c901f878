"""The marketing emails: birthday wishes and re-engagement. Both go only to customers with
marketing consent who are not anonymised, on live cards of live programmes; messaging checks
consent and suppressed addresses again when it sends, and adds the unsubscribe link.

Each run marks what it emailed (the customer's `last_birthday_email_on`, the card's
`last_reengagement_at`) in the transaction that queues the emails, on rows it locked
(`SKIP LOCKED`) and re-checked, so a second run, or two runs at once, email nobody twice.
"""

import calendar
import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q, QuerySet

from customers.models import Customer
from loyalty import emails
from loyalty.models import Card, Program
from merchants.models import Merchant
from messaging.services import queue_emails

# Birthday emails go out from this hour of the merchant's local day; the job runs hourly, so
# each time zone gets them at 08:00 (or at the first run after, if one was missed).
BIRTHDAY_HOUR = 8
# At most one re-engagement email per card in this long.
REENGAGEMENT_INTERVAL = datetime.timedelta(days=91)
CHUNK_SIZE = 500


def send_birthday_emails(*, now: datetime.datetime) -> dict[str, int]:
    """Queue the birthday emails due at `now`: for each merchant time zone where it is 08:00
    or later, the customers whose birthday is that local day and who had no birthday email
    this (local) year. Born on 29 February: the 28th in other years."""
    queued = 0
    time_zones = Merchant.objects.values_list("timezone", flat=True).distinct().order_by()
    for time_zone in sorted(set(time_zones)):
        local_now = now.astimezone(ZoneInfo(time_zone))
        if local_now.hour >= BIRTHDAY_HOUR:
            queued += _send_birthday_emails_in(time_zone, local_now.date())
    return {"emails": queued}


def _birthdays_on(day: datetime.date) -> Q:
    born_that_day = Q(customer__birth_date__month=day.month, customer__birth_date__day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        born_that_day |= Q(customer__birth_date__month=2, customer__birth_date__day=29)
    return born_that_day


def _marketing_cards() -> QuerySet[Card]:
    return Card.objects.filter(
        is_active=True,
        program__deleted_at__isnull=True,
        program__merchant__deleted_at__isnull=True,
        customer__marketing_consent=True,
        customer__anonymized_at__isnull=True,
    )


def _send_birthday_emails_in(time_zone: str, today: datetime.date) -> int:
    cards = (
        _marketing_cards()
        .filter(_birthdays_on(today), program__merchant__timezone=time_zone)
        .filter(
            Q(customer__last_birthday_email_on__isnull=True)
            | Q(customer__last_birthday_email_on__lt=datetime.date(today.year, 1, 1))
        )
        .select_related("customer", "program__merchant")
        .order_by("customer_id", "pk")
    )
    with transaction.atomic(durable=True):
        # The customers are locked: one email per customer, whichever of their cards.
        by_customer = {}
        for card in cards.select_for_update(skip_locked=True, of=("customer",)):
            by_customer.setdefault(card.customer_id, card)
        Customer.objects.filter(pk__in=by_customer).update(last_birthday_email_on=today)
        return queue_emails(
            [emails.card_email(card, emails.BIRTHDAY) for card in by_customer.values()]
        )


def send_reengagement_emails(*, now: datetime.datetime) -> dict[str, int]:
    """Queue a re-engagement email for each card inactive for longer than its programme's
    `reengagement_after_days`, unless the card had one within REENGAGEMENT_INTERVAL."""
    queued = 0
    programs = Program.objects.filter(
        reengagement_after_days__isnull=False, merchant__deleted_at__isnull=True
    ).select_related("merchant")
    for program in programs:
        queued += _send_reengagement_emails_for(program, now)
    return {"emails": queued}


def _send_reengagement_emails_for(program: Program, now: datetime.datetime) -> int:
    cards = (
        _marketing_cards()
        .filter(
            program=program,
            last_activity_at__lte=now - datetime.timedelta(days=program.reengagement_after_days),
        )
        .filter(
            Q(last_reengagement_at__isnull=True)
            | Q(last_reengagement_at__lte=now - REENGAGEMENT_INTERVAL)
        )
        .select_related("customer")
        .order_by("pk")
    )
    queued, last_id = 0, 0
    while True:
        with transaction.atomic(durable=True):
            chunk = list(
                cards.filter(pk__gt=last_id).select_for_update(skip_locked=True, of=("self",))[
                    :CHUNK_SIZE
                ]
            )
            if not chunk:
                return queued
            Card.objects.filter(pk__in=[card.pk for card in chunk]).update(last_reengagement_at=now)
            requests = []
            for card in chunk:
                card.program = program
                days_inactive = (now - card.last_activity_at).days
                requests.append(
                    emails.card_email(card, emails.REENGAGEMENT, days_inactive=days_inactive)
                )
            queued += queue_emails(requests)
        last_id = chunk[-1].pk
