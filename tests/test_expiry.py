import datetime

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from loyalty import card_links, card_numbers
from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import expiry
from loyalty.services.expiry import expire_points, preview_expiry
from loyalty.services.ledger import earn_points, redeem_points
from messaging.models import OutgoingEmail
from tests.factories import CardFactory, MerchantFactory, ProgramFactory, StoreFactory

EARNED_AT = datetime.datetime(2026, 1, 10, 9, 30, tzinfo=datetime.UTC)
EXPIRES_AT = EARNED_AT + datetime.timedelta(days=30)
SECOND = datetime.timedelta(seconds=1)
DAY = datetime.timedelta(days=1)


@pytest.fixture
def program(merchant):
    return ProgramFactory(merchant=merchant, points_expiration_days=30, expiration_warning_days=7)


def earn(card: Card, points: int, at: datetime.datetime) -> None:
    with time_machine.travel(at, tick=False):
        earn_points(card=card, store=None, points=points)


def expire(at: datetime.datetime, **kwargs) -> expiry.ExpiryCounts:
    with time_machine.travel(at, tick=False):
        return expire_points(now=at, **kwargs)


def expired_rows(card: Card):
    return Transaction.objects.filter(card=card, type=TransactionType.POINTS_EXPIRED)


def assert_ledger_matches_balance(card: Card) -> None:
    card.refresh_from_db()
    total = Transaction.objects.filter(card=card).aggregate(total=Sum("points_delta"))["total"]
    assert total == card.points_balance


def test_points_expire_at_the_end_of_the_inactivity_period(card):
    earn(card, 120, EARNED_AT)

    counts = expire(EXPIRES_AT)

    assert counts.as_dict() == {"programs": 1, "cards": 1, "points": 120, "warnings": 0}
    card.refresh_from_db()
    assert card.points_balance == 0
    assert card.lifetime_points_expired == 120
    assert card.lifetime_points_earned == 120
    assert card.last_activity_at == EARNED_AT
    row = expired_rows(card).get()
    assert (row.points_delta, row.points_balance_after, row.store_id) == (-120, 0, None)
    assert (row.staff_pin_id, row.acting_user_id, row.acting_admin_id) == (None, None, None)
    assert row.merchant_id == card.program.merchant_id
    assert row.reason == "No activity for 30 days"
    assert_ledger_matches_balance(card)


def test_nothing_expires_one_second_before_the_threshold(card):
    earn(card, 120, EARNED_AT)

    counts = expire(EXPIRES_AT - SECOND)

    assert counts.cards == 0
    card.refresh_from_db()
    assert card.points_balance == 120
    assert not expired_rows(card).exists()


def test_points_expire_one_second_after_the_threshold(card):
    earn(card, 120, EARNED_AT)

    assert expire(EXPIRES_AT + SECOND).cards == 1

    card.refresh_from_db()
    assert card.points_balance == 0


def test_the_customer_is_told_after_the_points_expired(card):
    earn(card, 120, EARNED_AT)

    expire(EXPIRES_AT)

    email = OutgoingEmail.objects.get(template=expiry.EXPIRED_TEMPLATE)
    assert email.to == card.customer.email
    assert email.customer_id == card.customer_id
    assert email.context["points_expired"] == 120
    assert email.context["first_name"] == card.customer.first_name
    assert email.context["expired_on"] == "2026-02-09"


def test_a_run_at_the_same_moment_again_expires_nothing_twice(card):
    earn(card, 120, EARNED_AT)
    expire(EXPIRES_AT)

    counts = expire(EXPIRES_AT + DAY)

    assert counts.cards == 0
    assert expired_rows(card).count() == 1
    assert OutgoingEmail.objects.filter(template=expiry.EXPIRED_TEMPLATE).count() == 1


def test_cards_with_no_points_are_ignored(card):
    earn(card, 120, EARNED_AT)
    with time_machine.travel(EARNED_AT, tick=False):
        redeem_points(card=card, store=None, points=120)

    assert expire(EXPIRES_AT + DAY).cards == 0
    assert not expired_rows(card).exists()


def test_inactive_and_trashed_cards_are_ignored(program, store):
    inactive, trashed = CardFactory.create_batch(2, program=program, enrolled_store=store)
    earn(inactive, 50, EARNED_AT)
    earn(trashed, 60, EARNED_AT)
    Card.objects.filter(pk=inactive.pk).update(is_active=False)
    Card.objects.filter(pk=trashed.pk).update(deleted_at=EARNED_AT)

    assert expire(EXPIRES_AT + DAY).cards == 0
    assert Card.all_objects.get(pk=inactive.pk).points_balance == 50
    assert Card.all_objects.get(pk=trashed.pk).points_balance == 60


def test_programmes_without_expiry_are_ignored(db):
    program = ProgramFactory(points_expiration_days=None)
    card = CardFactory(program=program)
    earn(card, 80, EARNED_AT)

    counts = expire(EARNED_AT + datetime.timedelta(days=3650))

    assert counts.as_dict() == {"programs": 0, "cards": 0, "points": 0, "warnings": 0}
    card.refresh_from_db()
    assert card.points_balance == 80


def test_a_card_that_became_active_again_does_not_expire(card):
    earn(card, 120, EARNED_AT)
    earn(card, 5, EARNED_AT + 20 * DAY)

    assert expire(EXPIRES_AT + DAY).cards == 0
    card.refresh_from_db()
    assert card.points_balance == 125


def test_a_card_expiring_within_the_warning_period_is_warned_once(card):
    earn(card, 120, EARNED_AT)

    first = expire(EXPIRES_AT - 7 * DAY)
    second = expire(EXPIRES_AT - 6 * DAY)
    third = expire(EXPIRES_AT - SECOND)

    assert (first.warnings, second.warnings, third.warnings) == (1, 0, 0)
    card.refresh_from_db()
    assert card.last_expiration_warning_at == EXPIRES_AT - 7 * DAY
    assert card.points_balance == 120
    email = OutgoingEmail.objects.get(template=expiry.EXPIRING_TEMPLATE)
    assert email.context["points_balance"] == 120
    assert email.context["expires_on"] == "2026-02-09"


def test_no_warning_before_the_warning_period(card):
    earn(card, 120, EARNED_AT)

    assert expire(EXPIRES_AT - 7 * DAY - SECOND).warnings == 0
    card.refresh_from_db()
    assert card.last_expiration_warning_at is None


def test_a_new_activity_starts_a_new_warning_cycle(card):
    earn(card, 120, EARNED_AT)
    expire(EXPIRES_AT - 3 * DAY)
    earn(card, 5, EXPIRES_AT - 2 * DAY)
    new_expiry = EXPIRES_AT - 2 * DAY + 30 * DAY

    assert expire(new_expiry - 10 * DAY).warnings == 0
    assert expire(new_expiry - 5 * DAY).warnings == 1
    assert expire(new_expiry - 4 * DAY).warnings == 0
    assert OutgoingEmail.objects.filter(template=expiry.EXPIRING_TEMPLATE).count() == 2


def test_cards_with_the_same_last_activity_are_all_expired_once_across_chunks(
    program, store, monkeypatch
):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", 2)
    cards = CardFactory.create_batch(5, program=program, enrolled_store=store)
    for card in cards:
        earn(card, 10, EARNED_AT)

    counts = expire(EXPIRES_AT)

    assert (counts.cards, counts.points) == (5, 50)
    for card in cards:
        assert expired_rows(card).count() == 1
        assert_ledger_matches_balance(card)


def test_only_the_given_merchants_cards_expire(card, rival_merchant):
    rival_card = rival_merchant["card"]
    rival_merchant["program"].points_expiration_days = 30
    rival_merchant["program"].save()
    earn(card, 10, EARNED_AT)
    earn(rival_card, 20, EARNED_AT)

    counts = expire(EXPIRES_AT, merchants=[card.program.merchant])

    assert (counts.programs, counts.cards, counts.points) == (1, 1, 10)
    rival_card.refresh_from_db()
    assert rival_card.points_balance == 20


def test_a_card_without_a_customer_expires_without_an_email(card):
    earn(card, 10, EARNED_AT)
    Card.objects.filter(pk=card.pk).update(customer=None)

    assert expire(EXPIRES_AT).cards == 1
    assert not OutgoingEmail.objects.filter(template=expiry.EXPIRED_TEMPLATE).exists()


def test_a_trashed_merchants_programme_is_ignored(db):
    merchant = MerchantFactory(deleted_at=EARNED_AT)
    program = ProgramFactory(merchant=merchant, points_expiration_days=30)
    card = CardFactory(program=program, enrolled_store=StoreFactory(merchant=merchant))
    earn(card, 10, EARNED_AT)

    assert expire(EXPIRES_AT).programs == 0


def test_the_preview_counts_what_would_expire_and_changes_nothing(card, program, store):
    warned = CardFactory(program=program, enrolled_store=store)
    earn(card, 120, EARNED_AT)
    earn(warned, 7, EARNED_AT + 5 * DAY)

    with time_machine.travel(EXPIRES_AT, tick=False):
        counts = preview_expiry(now=EXPIRES_AT)

    assert counts.as_dict() == {"programs": 1, "cards": 1, "points": 120, "warnings": 1}
    card.refresh_from_db()
    assert card.points_balance == 120
    assert not expired_rows(card).exists()
    assert not OutgoingEmail.objects.filter(template__startswith="points_").exists()


def test_the_emails_name_the_card_its_programme_and_its_store(card):
    earn(card, 120, EARNED_AT)
    expire(EXPIRES_AT - 7 * DAY)
    expire(EXPIRES_AT)

    for template in (expiry.EXPIRING_TEMPLATE, expiry.EXPIRED_TEMPLATE):
        email = OutgoingEmail.objects.get(template=template)
        assert (email.merchant_id, email.store_id) == (
            card.program.merchant_id,
            card.enrolled_store_id,
        )
        context = email.context
        assert (context["first_name"], context["merchant_name"], context["program_name"]) == (
            card.customer.first_name,
            card.program.merchant.name,
            card.program.name,
        )
        assert context["card_number"] == card_numbers.display(card.number)
        token = context["card_url"].removeprefix(settings.SITE_URL + "/card/").removesuffix("/")
        assert card_links.card_from_token(token) == card


def test_dates_in_the_emails_are_the_merchants_local_dates(store):
    merchant = MerchantFactory(timezone="Pacific/Auckland")
    program = ProgramFactory(merchant=merchant, points_expiration_days=30)
    card = CardFactory(program=program)
    # 20:00 UTC on 9 February is 09:00 on the 10th in Auckland.
    moment = datetime.datetime(2026, 2, 9, 20, 0, tzinfo=datetime.UTC)
    earn(card, 50, moment - 30 * DAY)
    expire(moment - 7 * DAY)
    expire(moment)

    warning = OutgoingEmail.objects.get(template=expiry.EXPIRING_TEMPLATE)
    assert warning.context["expires_on"] == "2026-02-10"
    expired = OutgoingEmail.objects.get(template=expiry.EXPIRED_TEMPLATE)
    assert expired.context["expired_on"] == "2026-02-10"


def test_warnings_are_counted_over_every_chunk_and_programme(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", 1)
    other = ProgramFactory(points_expiration_days=30, expiration_warning_days=7)
    cards = [CardFactory(program=program), CardFactory(program=program), CardFactory(program=other)]
    for card in cards:
        earn(card, 10, EARNED_AT)

    assert expire(EXPIRES_AT - 7 * DAY).warnings == 3
    assert OutgoingEmail.objects.filter(template=expiry.EXPIRING_TEMPLATE).count() == 3


def test_a_single_point_expires(card):
    earn(card, 1, EARNED_AT)

    assert expire(EXPIRES_AT).as_dict() == {"programs": 1, "cards": 1, "points": 1, "warnings": 0}
    assert expired_rows(card).get().points_delta == -1


def test_the_card_with_the_first_id_is_warned_and_expired(program):
    card = CardFactory(pk=1, program=program)
    earn(card, 40, EARNED_AT)

    assert expire(EXPIRES_AT - 7 * DAY).warnings == 1
    assert expire(EXPIRES_AT).cards == 1
    assert expired_rows(card).count() == 1


def test_expiry_refuses_to_run_inside_a_transaction(card):
    """Each chunk commits on its own, with its emails queued after it: an outer transaction
    would hold every card's lock to the end and lose the emails' order on a rollback."""
    earn(card, 10, EARNED_AT)

    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        expire(EXPIRES_AT)
