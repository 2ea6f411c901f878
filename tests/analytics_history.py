"""A small, deliberately irregular history for the analytics tests, figures worked out by hand.

Merchant "Alice's Bakery" in New York (UTC-5, UTC-4 from 8 March 2026), stores `main` and
`north`, stamps target 5. Times are local. Several rows sit on the last evening of a month,
which is already the next month in UTC: figures grouped in UTC would move them.

- c1, enrolled 5 Jan 12:00 at main: earn 10.00 EUR, +10 (5 Jan 12:00); earn 20.00, +20
  (31 Jan 23:30); redeem -20 (10 Mar 12:00); redeem -10 (12 Mar 12:00) and its void, +10
  (12 Mar 13:00).
- c2, enrolled 31 Jan 23:00 at main: a stamp, 1 in all (2 Feb 12:00); a stamp reaching the
  target of 5 (1 Mar 12:00).
- c3, enrolled 10 Feb 12:00 at north: earn 5.00, +5 (10 Feb 12:00), voided, -5 (11 Feb
  12:00); a stamp, 1 in all (15 Feb 12:00); earn 7.00, +7 (28 Feb 22:00).
- c4, enrolled 20 Feb 12:00 at north, since trashed: welcome bonus +50 (20 Feb 12:00).
- c5, enrolled 15 Dec 2025 12:00 at main: earn 30.00, +30 (10 Jan 12:00); adjusted -3 (5 Mar
  12:00); expired -10, no store (20 Mar 12:00).
- c6, enrolled 20 Jan 12:00 at main: nothing.

The summaries are refreshed up to 1 April 2026 00:00 in New York (`AS_OF`).

The rival merchant (Bob's Books, Luxembourg) has a card visiting twice a day, 1 Jan to 30 Mar, with
large purchases: any of its rows in Alice's figures would show.
"""

import datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

from loyalty.models import Card
from loyalty.services.analytics_summaries import refresh_all_analytics
from tests.factories import (
    CardFactory,
    MerchantFactory,
    ProgramFactory,
    StoreFactory,
    TransactionFactory,
)

NEW_YORK = ZoneInfo("America/New_York")


def local(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


# The instant the summaries of the history are refreshed up to: 1 April 2026 00:00 in New York.
AS_OF = datetime.datetime(2026, 4, 1, tzinfo=NEW_YORK)


def build_history() -> dict:
    merchant = MerchantFactory(
        slug="alice-bakery", name="Alice's Bakery", timezone="America/New_York"
    )
    main = StoreFactory(merchant=merchant, code="main", name="Main street")
    north = StoreFactory(merchant=merchant, code="north", name="North")
    program = ProgramFactory(merchant=merchant, stamps_target=5)

    def card(enrolled_at, store):
        made = CardFactory(program=program, enrolled_store=store)
        Card.all_objects.filter(pk=made.pk).update(created_at=enrolled_at)
        made.refresh_from_db()
        return made

    def row(card, at, kind, *, points=0, stamps_after=0, cents=None, store=None, voids=None):
        return TransactionFactory(
            card=card,
            store=store if store is not None else card.enrolled_store,
            type=kind,
            points_delta=points,
            stamps_delta=1 if kind == "stamp_earned" else 0,
            stamps_balance_after=stamps_after,
            purchase_amount_cents=cents,
            voids=voids,
            created_at=at,
        )

    c1 = card(local(1, 5), main)
    c2 = card(local(1, 31, 23), main)
    c3 = card(local(2, 10), north)
    c4 = card(local(2, 20), north)
    c5 = card(local(12, 15, year=2025), main)
    c6 = card(local(1, 20), main)

    row(c1, local(1, 5), "points_earned", points=10, cents=1000)
    row(c1, local(1, 31, 23, 30), "points_earned", points=20, cents=2000)
    row(c1, local(3, 10), "points_redeemed", points=-20)
    redeem = row(c1, local(3, 12), "points_redeemed", points=-10)
    row(c1, local(3, 12, 13), "points_voided", points=10, voids=redeem)

    row(c2, local(2, 2), "stamp_earned", stamps_after=1)
    row(c2, local(3, 1), "stamp_earned", stamps_after=5)

    voided_earn = row(c3, local(2, 10), "points_earned", points=5, cents=500)
    row(c3, local(2, 11), "points_voided", points=-5, voids=voided_earn)
    row(c3, local(2, 15), "stamp_earned", stamps_after=1)
    row(c3, local(2, 28, 22), "points_earned", points=7, cents=700)

    row(c4, local(2, 20), "welcome_bonus", points=50)
    Card.all_objects.filter(pk=c4.pk).update(deleted_at=timezone.now())

    row(c5, local(1, 10), "points_earned", points=30, cents=3000)
    row(c5, local(3, 5), "points_adjusted", points=-3)
    TransactionFactory(
        card=c5, store=None, type="points_expired", points_delta=-10, created_at=local(3, 20)
    )

    rival = MerchantFactory(slug="bob-books", name="Bob's Books", timezone="Europe/Luxembourg")
    rival_store = StoreFactory(merchant=rival, code="main")
    rival_card = CardFactory(program=ProgramFactory(merchant=rival), enrolled_store=rival_store)
    Card.all_objects.filter(pk=rival_card.pk).update(created_at=local(1, 2))
    rival_card.refresh_from_db()
    for day in range(89):
        at = local(1, 1) + datetime.timedelta(days=day)
        row(rival_card, at, "points_earned", points=100, cents=10_000)
        row(rival_card, at + datetime.timedelta(hours=6), "stamp_earned", stamps_after=5)

    # The figures read the summaries: refreshed as the periodic job does, here up to the
    # first instant of April (after every row above).
    refresh_all_analytics(as_of=AS_OF)
    return {
        "merchant": merchant,
        "main": main,
        "north": north,
        "cards": {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c6": c6},
        "rival": rival,
        "rival_card": rival_card,
    }
