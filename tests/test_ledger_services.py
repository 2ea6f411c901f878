import datetime
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db.models import Sum

from loyalty import card_links, emails, errors
from loyalty.models import Card, Program, Transaction, TransactionType
from loyalty.services import ledger
from loyalty.services.ledger import Actor
from merchants import services as merchant_services
from messaging.models import OutgoingEmail
from tests.factories import (
    CardFactory,
    ProgramFactory,
    RewardFactory,
    StaffPinFactory,
    StoreFactory,
    TransactionFactory,
    UserFactory,
)
from tests.links import token_of


def assert_ledger_matches(card: Card) -> None:
    card.refresh_from_db()
    sums = card.transactions.aggregate(points=Sum("points_delta"), stamps=Sum("stamps_delta"))
    assert card.points_balance == (sums["points"] or 0)
    assert card.stamp_count == (sums["stamps"] or 0)
    assert card.points_balance >= 0 and card.stamp_count >= 0


def earn(card, store, points):
    return ledger.earn_points(card=card, store=store, points=points)


def card_state(card: Card) -> tuple:
    """Everything a refused operation must leave as it was."""
    row = Card.all_objects.filter(pk=card.pk).values().get()
    return row, card.transactions.count(), OutgoingEmail.objects.count()


@contextmanager
def refused(card: Card, error: type[errors.DomainError]):
    """Expect `error`, and the card, its ledger and the outbox unchanged by the refusal."""
    before = card_state(card)
    with pytest.raises(error) as raised:
        yield raised
    assert card_state(card) == before


# Enrolment


def test_it_enrols_a_new_customer_with_the_welcome_bonus(program, store):
    program.welcome_bonus_points = 50
    program.save()
    card = ledger.enroll_customer(
        program=program, store=store, email="Ana@Example.COM", first_name="Ana"
    )
    assert card.points_balance == 50
    assert card.customer.email == "Ana@example.com"
    entry = card.transactions.get()
    assert entry.type == TransactionType.WELCOME_BONUS
    assert entry.points_delta == 50 and entry.points_balance_after == 50
    assert card.lifetime_points_earned == 50
    enrollment, bonus = OutgoingEmail.objects.order_by("pk")
    assert (enrollment.template, bonus.template) == (emails.ENROLLMENT, emails.WELCOME_BONUS)
    assert bonus.context["welcome_bonus_points"] == 50
    assert (bonus.to, bonus.customer_id, bonus.store_id) == (
        "Ana@example.com",
        card.customer_id,
        store.pk,
    )
    assert bonus.is_marketing is False
    assert card_links.card_from_token(token_of(enrollment.context["card_url"])) == card
    assert_ledger_matches(card)


def test_it_writes_no_ledger_row_without_a_welcome_bonus(program, store):
    card = ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    assert card.points_balance == 0
    assert not card.transactions.exists()
    assert card.last_activity_at is not None
    assert list(OutgoingEmail.objects.values_list("template", flat=True)) == [emails.ENROLLMENT]


def test_it_gives_no_welcome_points_on_a_stamps_programme(merchant, store):
    program = ProgramFactory(merchant=merchant, kind=Program.Kind.STAMPS, welcome_bonus_points=9)
    card = ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    assert card.points_balance == 0


def test_the_card_number_carries_a_valid_check_digit(program, store):
    from loyalty import card_numbers

    card = ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    assert card_numbers.normalize(card.number) == card.number


def test_it_refuses_a_second_card_for_the_same_customer_when_cross_location_is_on(
    program, store, other_store
):
    ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    with pytest.raises(errors.AlreadyEnrolled):
        ledger.enroll_customer(program=program, store=other_store, email="A@X.com", first_name="A")
    assert Card.objects.count() == 1


def test_it_allows_one_card_per_store_when_cross_location_is_off(program, store, other_store):
    program.allow_cross_location_redemption = False
    program.save()
    ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    ledger.enroll_customer(program=program, store=other_store, email="a@x.com", first_name="A")
    with pytest.raises(errors.AlreadyEnrolled):
        ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    assert Card.objects.count() == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "  "}, "first_name"),
        ({"locale": "xx"}, "locale"),
        ({"birth_date": datetime.date(2999, 1, 1)}, "birth_date"),
        ({"birth_date": datetime.date(1850, 1, 1)}, "birth_date"),
    ],
)
def test_it_refuses_invalid_enrolment_input(program, store, fields, field):
    data = {"email": "a@x.com", "first_name": "A", **fields}
    with pytest.raises(errors.InvalidInput) as exc:
        ledger.enroll_customer(program=program, store=store, **data)
    assert exc.value.code == "invalid"
    assert field in exc.value.fields
    assert not Card.objects.exists()


def test_it_refuses_to_enrol_at_another_merchants_store(program, rival_merchant):
    with pytest.raises(errors.NotFound):
        ledger.enroll_customer(
            program=program, store=rival_merchant["store"], email="a@x.com", first_name="A"
        )


def test_it_refuses_to_enrol_in_a_trashed_programme(program, store):
    merchant_services.trash(obj=program)
    with pytest.raises(errors.NoLiveProgram):
        ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")


# Earning


@pytest.mark.parametrize(
    ("rate", "cents", "expected"),
    [
        ("1", 1299, 12),
        ("1", 100, 1),
        ("1", 99, 0),
        ("2.5", 1999, 49),
        ("0.1", 5000, 5),
        ("0", 5000, 0),
        ("1.3333", 300, 3),
    ],
)
def test_it_earns_floor_of_amount_times_rate(card, store, rate, cents, expected):
    Program.objects.filter(pk=card.program_id).update(points_per_euro=Decimal(rate))
    entry = ledger.earn_points(card=card, store=store, purchase_amount_cents=cents)
    assert entry.points_delta == expected
    assert entry.purchase_amount_cents == cents
    assert_ledger_matches(card)


def test_it_earns_nothing_below_the_minimum_purchase(card, store):
    Program.objects.filter(pk=card.program_id).update(minimum_purchase_cents=500)
    with refused(card, errors.BelowMinimumPurchase) as exc:
        ledger.earn_points(card=card, store=store, purchase_amount_cents=499)
    assert exc.value.code == "below_minimum_purchase"
    assert not card.transactions.exists()
    entry = ledger.earn_points(card=card, store=store, purchase_amount_cents=500)
    assert entry.points_delta == 5


def test_it_earns_a_given_number_of_points_and_records_who(card, store):
    pin = StaffPinFactory(store=store)
    entry = ledger.earn_points(
        card=card, store=store, points=40, order_reference="R-1", actor=Actor(staff_pin=pin)
    )
    card.refresh_from_db()
    assert (card.points_balance, card.lifetime_points_earned) == (40, 40)
    assert entry.staff_pin == pin and entry.order_reference == "R-1"
    assert entry.store == store and entry.merchant_id == card.program.merchant_id
    assert card.last_activity_at == entry.card.last_activity_at


def test_the_ledger_row_is_dated_when_the_card_changed(card, store):
    entry = earn(card, store, 10)
    card.refresh_from_db()
    stored = Transaction.objects.get(pk=entry.pk)
    assert stored.created_at == entry.created_at == card.last_activity_at


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"points": 5, "purchase_amount_cents": 500},
        {"points": 0},
        {"points": -3},
        {"points": True},
        {"points": "10"},
        {"points": 10**9},
        {"purchase_amount_cents": 0},
        {"purchase_amount_cents": 10**12},
    ],
)
def test_it_refuses_invalid_earn_input(card, store, kwargs):
    with refused(card, errors.InvalidInput):
        ledger.earn_points(card=card, store=store, **kwargs)
    assert not card.transactions.exists()


def test_it_refuses_points_on_a_stamps_programme(merchant, store):
    card = CardFactory(program__merchant=merchant, program__kind=Program.Kind.STAMPS)
    with refused(card, errors.PointsNotEnabled):
        earn(card, card.enrolled_store, 10)


@pytest.mark.parametrize("state", ["inactive", "trashed_card", "trashed_program"])
def test_it_refuses_every_operation_on_an_unusable_card(card, store, state):
    earn(card, store, 50)
    if state == "inactive":
        Card.objects.filter(pk=card.pk).update(is_active=False)
    elif state == "trashed_card":
        merchant_services.trash(obj=card)
    else:
        merchant_services.trash(obj=card.program)
    operations = [
        lambda: earn(card, store, 1),
        lambda: ledger.redeem_points(card=card, store=store, points=1),
        lambda: ledger.add_stamps(card=card, store=store),
        lambda: ledger.redeem_stamps(card=card, store=store),
        lambda: ledger.adjust_points(card=card, points=1, reason="x"),
        lambda: ledger.void_transaction(entry=card.transactions.get(), store=store),
    ]
    for operation in operations:
        with refused(card, errors.CardInactive):
            operation()
    assert card.transactions.count() == 1


def test_it_treats_another_merchants_store_as_not_found(card, rival_merchant):
    with refused(card, errors.NotFound):
        earn(card, rival_merchant["store"], 10)


# Redeeming points


def test_it_redeems_points(card, store):
    earn(card, store, 120)
    entry = ledger.redeem_points(card=card, store=store, points=100)
    card.refresh_from_db()
    assert (entry.points_delta, entry.points_balance_after) == (-100, 20)
    assert (card.points_balance, card.lifetime_points_redeemed) == (20, 100)
    assert_ledger_matches(card)


def test_it_refuses_to_redeem_more_than_the_balance(card, store):
    earn(card, store, 99)
    with refused(card, errors.InsufficientPoints) as exc:
        ledger.redeem_points(card=card, store=store, points=100)
    assert exc.value.code == "insufficient_points"
    card.refresh_from_db()
    assert card.points_balance == 99
    assert card.transactions.count() == 1


def test_it_redeems_a_catalogue_reward(card, store):
    reward = RewardFactory(program=card.program, points_cost=80)
    earn(card, store, 100)
    entry = ledger.redeem_points(card=card, store=store, reward_id=reward.pk)
    assert entry.points_delta == -80 and entry.reward == reward


def test_it_refuses_an_inactive_or_foreign_reward(card, store, rival_merchant):
    earn(card, store, 1000)
    inactive = RewardFactory(program=card.program, is_active=False)
    foreign = RewardFactory(program=rival_merchant["program"])
    for reward in (inactive, foreign):
        with refused(card, errors.RewardUnavailable):
            ledger.redeem_points(card=card, store=store, reward_id=reward.pk)


def test_it_refuses_redeeming_at_another_store_when_cross_location_is_off(card, store, other_store):
    Program.objects.filter(pk=card.program_id).update(allow_cross_location_redemption=False)
    earn(card, other_store, 100)  # earning anywhere is fine
    with refused(card, errors.CrossLocationNotAllowed):
        ledger.redeem_points(card=card, store=other_store, points=10)
    ledger.redeem_points(card=card, store=store, points=10)


def test_it_allows_redeeming_anywhere_when_cross_location_is_on(card, store, other_store):
    earn(card, store, 100)
    entry = ledger.redeem_points(card=card, store=other_store, points=10)
    assert (entry.store, entry.points_delta, entry.points_balance_after) == (other_store, -10, 90)
    assert_ledger_matches(card)


# Stamps


def test_it_adds_stamps_and_asks_for_the_reward_email_once_the_target_is_reached(card, store):
    ledger.add_stamps(card=card, store=store, count=3)
    assert not OutgoingEmail.objects.filter(template=emails.REWARD_READY).exists()
    entry = ledger.add_stamps(card=card, store=store, count=2)
    assert (entry.stamps_delta, entry.stamps_balance_after) == (2, 5)
    ledger.add_stamps(card=card, store=store)
    email = OutgoingEmail.objects.get(template=emails.REWARD_READY)
    assert email.to == card.customer.email
    assert email.context["stamp_count"] == 5
    assert_ledger_matches(card)


def test_it_redeems_a_full_set_of_stamps(card, store):
    ledger.add_stamps(card=card, store=store, count=7)
    entry = ledger.redeem_stamps(card=card, store=store)
    assert (entry.stamps_delta, entry.stamps_balance_after) == (-5, 2)


def test_it_refuses_to_redeem_an_incomplete_set_of_stamps(card, store):
    ledger.add_stamps(card=card, store=store, count=4)
    with refused(card, errors.InsufficientStamps):
        ledger.redeem_stamps(card=card, store=store)
    card.refresh_from_db()
    assert card.stamp_count == 4


def test_it_refuses_stamps_on_a_points_programme(merchant):
    card = CardFactory(program__merchant=merchant, program__kind=Program.Kind.POINTS)
    with refused(card, errors.StampsNotEnabled):
        ledger.add_stamps(card=card, store=card.enrolled_store)
    with refused(card, errors.StampsNotEnabled):
        ledger.redeem_stamps(card=card, store=card.enrolled_store)


@pytest.mark.parametrize("count", [0, -1, 101, 1.5])
def test_it_refuses_a_bad_stamp_count(card, store, count):
    with refused(card, errors.InvalidInput):
        ledger.add_stamps(card=card, store=store, count=count)


# Voids


@pytest.mark.parametrize(
    ("setup", "expected_type", "points", "stamps"),
    [
        (lambda c, s: earn(c, s, 30), TransactionType.POINTS_VOIDED, 0, 0),
        (
            lambda c, s: (earn(c, s, 30), ledger.redeem_points(card=c, store=s, points=10))[1],
            TransactionType.POINTS_VOIDED,
            30,
            0,
        ),
        (
            lambda c, s: ledger.add_stamps(card=c, store=s, count=2),
            TransactionType.STAMP_VOIDED,
            0,
            0,
        ),
        (
            lambda c, s: (
                ledger.add_stamps(card=c, store=s, count=5),
                ledger.redeem_stamps(card=c, store=s),
            )[1],
            TransactionType.STAMP_VOIDED,
            0,
            5,
        ),
    ],
)
def test_a_void_reverses_the_original(card, store, setup, expected_type, points, stamps):
    original = setup(card, store)
    reversal = ledger.void_transaction(entry=original, store=store, reason="till error")
    card.refresh_from_db()
    assert reversal.type == expected_type
    assert reversal.voids == original
    assert reversal.points_delta == -original.points_delta
    assert reversal.stamps_delta == -original.stamps_delta
    assert (card.points_balance, card.stamp_count) == (points, stamps)
    assert reversal.reason == "till error"
    original.refresh_from_db()
    assert original.voided_by == reversal
    assert_ledger_matches(card)


def test_it_voids_a_transaction_at_most_once(card, store):
    original = earn(card, store, 30)
    ledger.void_transaction(entry=original, store=store)
    with refused(card, errors.AlreadyVoided) as exc:
        ledger.void_transaction(entry=original, store=store)
    assert exc.value.code == "already_voided"
    assert card.transactions.count() == 2


@pytest.mark.parametrize("kind", ["welcome", "adjust", "void"])
def test_it_refuses_to_void_what_is_not_an_earn_redeem_or_stamp(card, store, kind):
    if kind == "welcome":
        card.program.welcome_bonus_points = 10
        card.program.save()
        card = ledger.enroll_customer(
            program=card.program, store=store, email="w@x.com", first_name="W"
        )
        entry = card.transactions.get()
    elif kind == "adjust":
        entry = ledger.adjust_points(card=card, points=5, reason="goodwill")
    else:
        entry = ledger.void_transaction(entry=earn(card, store, 5), store=store)
    with refused(card, errors.NotVoidable) as exc:
        ledger.void_transaction(entry=entry, store=store)
    assert exc.value.code == "not_voidable"


def test_it_refuses_to_void_an_earn_whose_points_were_spent(card, store):
    original = earn(card, store, 30)
    ledger.redeem_points(card=card, store=store, points=25)
    with refused(card, errors.InsufficientPoints):
        ledger.void_transaction(entry=original, store=store)
    card.refresh_from_db()
    assert card.points_balance == 5


def test_it_refuses_to_void_stamps_already_used(card, store):
    original = ledger.add_stamps(card=card, store=store, count=5)
    ledger.redeem_stamps(card=card, store=store)
    with refused(card, errors.InsufficientStamps):
        ledger.void_transaction(entry=original, store=store)


def test_it_refuses_voiding_at_another_store_when_cross_location_is_off(card, store, other_store):
    Program.objects.filter(pk=card.program_id).update(allow_cross_location_redemption=False)
    original = earn(card, store, 30)
    with refused(card, errors.CrossLocationNotAllowed) as exc:
        ledger.void_transaction(entry=original, store=other_store)
    assert exc.value.code == "cross_location_not_allowed"


# Adjustments


def test_it_adjusts_points_up_and_down_with_a_reason_and_who(card, store):
    operator = UserFactory(is_staff=True)
    ledger.adjust_points(card=card, points=40, reason="goodwill", actor=Actor(admin=operator))
    entry = ledger.adjust_points(card=card, points=-15, reason="duplicate purchase")
    assert entry.points_balance_after == 25
    first = card.transactions.order_by("id").first()
    assert first.acting_admin == operator and first.reason == "goodwill"
    assert_ledger_matches(card)


def test_it_refuses_an_adjustment_below_zero(card, store):
    earn(card, store, 10)
    with refused(card, errors.InsufficientPoints):
        ledger.adjust_points(card=card, points=-11, reason="oops")


@pytest.mark.parametrize(("points", "reason"), [(0, "x"), (5, ""), (5, "   "), (10**7, "x")])
def test_it_refuses_an_adjustment_without_points_or_reason(card, points, reason):
    with refused(card, errors.InvalidInput):
        ledger.adjust_points(card=card, points=points, reason=reason)


# The ledger itself


def test_the_database_refuses_a_negative_balance(card):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Card.objects.filter(pk=card.pk).update(points_balance=-1)


@pytest.mark.postgres
def test_the_ledger_refuses_delete_and_update_but_allows_clearing_notes(card):
    from django.db import IntegrityError, transaction

    entry = TransactionFactory(card=card, points_delta=0, notes="called back", reason="r")
    refused = [
        lambda: Transaction.objects.filter(pk=entry.pk).update(notes="something else"),
        lambda: Transaction.objects.filter(pk=entry.pk).update(points_delta=999),
        lambda: Transaction.objects.filter(pk=entry.pk).update(notes="", points_balance_after=1),
        lambda: Transaction.objects.filter(pk=entry.pk).delete(),
    ]
    for change in refused:
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
            change()
    Transaction.objects.filter(pk=entry.pk).update(notes="", reason="")
    entry.refresh_from_db()
    assert (entry.notes, entry.reason, entry.points_delta) == ("", "", 0)


def test_a_store_belongs_to_one_merchant_only(merchant, rival_merchant):
    store = StoreFactory(merchant=merchant, code="shared-code")
    StoreFactory(merchant=rival_merchant["merchant"], code="shared-code")
    assert store.code == "shared-code"


# What the mutation run of the ledger found untested


@pytest.mark.parametrize(
    ("operation", "kwargs"),
    [
        (ledger.earn_points, {}),
        (ledger.earn_points, {"points": 5, "purchase_amount_cents": 500}),
        (ledger.redeem_points, {}),
        (ledger.redeem_points, {"points": 5, "reward_id": 1}),
    ],
)
def test_either_or_input_is_refused_with_its_fields(card, store, operation, kwargs):
    with refused(card, errors.InvalidInput) as raised:
        operation(card=card, store=store, **kwargs)
    assert raised.value.fields == {"non_field_errors": ["invalid"]}


def test_it_redeems_the_reward_asked_for_not_another_of_the_programme(card, store):
    RewardFactory(program=card.program, points_cost=10)
    asked = RewardFactory(program=card.program, points_cost=70)
    earn(card, store, 100)
    entry = ledger.redeem_points(card=card, store=store, reward_id=asked.pk)
    assert (entry.reward, entry.points_delta, entry.points_balance_after) == (asked, -70, 30)


def test_one_stamp_unless_told_otherwise(card, store):
    entry = ledger.add_stamps(card=card, store=store)
    assert (entry.stamps_delta, entry.stamps_balance_after) == (1, 1)


def test_a_ledger_operation_reads_the_card_once_with_what_its_answer_shows(
    card, store, django_assert_num_queries
):
    # The locked read, the card's update and the ledger row; the answer needs nothing more.
    with django_assert_num_queries(3):
        entry = ledger.earn_points(card=card, store=store, points=5)
        shown = (entry.card.program.stamps_target, entry.card.customer.first_name)
        shown += (entry.card.enrolled_store.code,)
    assert shown == (card.program.stamps_target, card.customer.first_name, card.enrolled_store.code)
