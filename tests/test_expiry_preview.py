"""The expiry preview adds up every programme it looks at, and only the merchants asked for."""

import datetime

import time_machine

from loyalty.services.expiry import preview_expiry
from loyalty.services.ledger import earn_points
from tests.factories import CardFactory, MerchantFactory, ProgramFactory, StoreFactory

EARNED_AT = datetime.datetime(2026, 1, 10, 9, 30, tzinfo=datetime.UTC)
EXPIRES_AT = EARNED_AT + datetime.timedelta(days=30)


def merchant_with_cards(*points_and_days: tuple[int, int]):
    """A merchant whose programme expires points after 30 days (warning 7 days before), with
    one card per (points, days after EARNED_AT it earned them)."""
    merchant = MerchantFactory()
    program = ProgramFactory(
        merchant=merchant, points_expiration_days=30, expiration_warning_days=7
    )
    store = StoreFactory(merchant=merchant)
    for points, days in points_and_days:
        card = CardFactory(program=program, enrolled_store=store)
        with time_machine.travel(EARNED_AT + datetime.timedelta(days=days), tick=False):
            earn_points(card=card, store=None, points=points)
    return merchant


def preview(**kwargs):
    with time_machine.travel(EXPIRES_AT, tick=False):
        return preview_expiry(now=EXPIRES_AT, **kwargs).as_dict()


def test_the_preview_adds_up_every_programme(db):
    merchant_with_cards((120, 0), (7, 5))
    merchant_with_cards((30, 0), (40, 0), (9, 4))
    merchant_with_cards()

    assert preview() == {"programs": 3, "cards": 3, "points": 190, "warnings": 2}


def test_the_preview_counts_only_the_merchants_asked_for(db):
    asked = merchant_with_cards((120, 0), (7, 5))
    merchant_with_cards((30, 0))

    assert preview(merchants=[asked]) == {"programs": 1, "cards": 1, "points": 120, "warnings": 1}
