"""Each ledger operation, checked on the whole row it writes and every counter of the card it
moves; the limits at exactly the maximum and one past it; what enrolment stores."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone

from customers.models import Customer
from loyalty import card_links, card_numbers, emails, errors
from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import ledger
from loyalty.services.ledger import (
    MAX_POINTS_BALANCE,
    MAX_POINTS_PER_OPERATION,
    MAX_PURCHASE_CENTS,
    MAX_STAMPS_PER_OPERATION,
    Actor,
)
from messaging.models import OutgoingEmail
from tests.factories import CardFactory, ProgramFactory, RewardFactory, StaffPinFactory, UserFactory
from tests.links import token_of

ROW_FIELDS = [field.attname for field in Transaction._meta.concrete_fields if field.name != "id"]
CARD_COUNTERS = [
    "points_balance",
    "stamp_count",
    "lifetime_points_earned",
    "lifetime_points_redeemed",
    "lifetime_points_voided",
    "lifetime_points_expired",
]


@pytest.fixture
def actor(store):
    """Someone in every role, so that a row that drops any of them is noticed."""
    return Actor(
        staff_pin=StaffPinFactory(store=store),
        user=UserFactory(),
        admin=UserFactory(is_staff=True),
    )


def stored_row(entry: Transaction) -> dict:
    return Transaction.objects.filter(pk=entry.pk).values(*ROW_FIELDS).get()


def expected_row(card: Card, store, actor: Actor, **values) -> dict:
    """The row as an operation at `store` by `actor` writes it, with `values` for the fields
    that operation sets."""
    row = {
        "card_id": card.pk,
        "merchant_id": card.program.merchant_id,
        "store_id": store.pk if store else None,
        "points_delta": 0,
        "stamps_delta": 0,
        "purchase_amount_cents": None,
        "order_reference": "",
        "reward_id": None,
        "reason": "",
        "notes": "",
        "staff_pin_id": actor.staff_pin.pk if actor.staff_pin else None,
        "acting_user_id": actor.user.pk if actor.user else None,
        "acting_admin_id": actor.admin.pk if actor.admin else None,
        "voids_id": None,
    }
    row.update(values)
    return row


def counters(card: Card) -> dict:
    card.refresh_from_db()
    return {name: getattr(card, name) for name in CARD_COUNTERS}


def assert_written(entry: Transaction, card: Card, row: dict, card_counters: dict) -> None:
    """The stored row is `row` (its creation time aside) and the card's counters are
    `card_counters`, its last activity the row's time."""
    stored = stored_row(entry)
    created_at = stored.pop("created_at")
    assert stored == row
    assert counters(card) == {name: card_counters.get(name, 0) for name in CARD_COUNTERS}
    assert card.last_activity_at == created_at
    assert created_at is not None


# Each operation's row and counters


def test_it_writes_the_whole_earn_row_for_a_purchase(card, store, actor):
    entry = ledger.earn_points(
        card=card, store=store, purchase_amount_cents=2490, order_reference="R-7", actor=actor
    )
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.POINTS_EARNED,
            points_delta=24,
            points_balance_after=24,
            stamps_balance_after=0,
            purchase_amount_cents=2490,
            order_reference="R-7",
        ),
        {"points_balance": 24, "lifetime_points_earned": 24},
    )


def test_it_writes_the_whole_earn_row_for_given_points(card, store, actor):
    ledger.add_stamps(card=card, store=store, count=2)
    entry = ledger.earn_points(card=card, store=store, points=40, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.POINTS_EARNED,
            points_delta=40,
            points_balance_after=40,
            stamps_balance_after=2,
        ),
        {"points_balance": 40, "stamp_count": 2, "lifetime_points_earned": 40},
    )


def test_it_writes_the_whole_redeem_row(card, other_store, actor):
    ledger.earn_points(card=card, store=other_store, points=100)
    entry = ledger.redeem_points(card=card, store=other_store, points=30, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            other_store,
            actor,
            type=TransactionType.POINTS_REDEEMED,
            points_delta=-30,
            points_balance_after=70,
            stamps_balance_after=0,
        ),
        {"points_balance": 70, "lifetime_points_earned": 100, "lifetime_points_redeemed": 30},
    )


def test_it_writes_the_whole_reward_redemption_row(card, store, actor):
    reward = RewardFactory(program=card.program, points_cost=80)
    ledger.earn_points(card=card, store=store, points=100)
    entry = ledger.redeem_points(card=card, store=store, reward_id=reward.pk, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.POINTS_REDEEMED,
            points_delta=-80,
            points_balance_after=20,
            stamps_balance_after=0,
            reward_id=reward.pk,
        ),
        {"points_balance": 20, "lifetime_points_earned": 100, "lifetime_points_redeemed": 80},
    )


def test_it_writes_the_whole_stamp_row(card, other_store, actor):
    ledger.earn_points(card=card, store=other_store, points=10)
    entry = ledger.add_stamps(card=card, store=other_store, count=3, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            other_store,
            actor,
            type=TransactionType.STAMP_EARNED,
            stamps_delta=3,
            points_balance_after=10,
            stamps_balance_after=3,
        ),
        {"points_balance": 10, "stamp_count": 3, "lifetime_points_earned": 10},
    )


def test_it_writes_the_whole_stamp_redemption_row(card, store, actor):
    ledger.add_stamps(card=card, store=store, count=7)
    entry = ledger.redeem_stamps(card=card, store=store, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.STAMP_REDEEMED,
            stamps_delta=-5,
            points_balance_after=0,
            stamps_balance_after=2,
        ),
        {"stamp_count": 2},
    )


def test_it_writes_the_whole_void_row_of_an_earn(card, store, actor):
    earned = ledger.earn_points(card=card, store=store, points=60)
    entry = ledger.void_transaction(entry=earned, store=store, reason="wrong card", actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.POINTS_VOIDED,
            points_delta=-60,
            points_balance_after=0,
            stamps_balance_after=0,
            reason="wrong card",
            voids_id=earned.pk,
        ),
        {"lifetime_points_earned": 60, "lifetime_points_voided": 60},
    )


def test_it_writes_the_whole_void_row_of_a_redemption(card, store, actor):
    ledger.earn_points(card=card, store=store, points=100)
    redeemed = ledger.redeem_points(card=card, store=store, points=40)
    entry = ledger.void_transaction(entry=redeemed, store=store, actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.POINTS_VOIDED,
            points_delta=40,
            points_balance_after=100,
            stamps_balance_after=0,
            voids_id=redeemed.pk,
        ),
        {
            "points_balance": 100,
            "lifetime_points_earned": 100,
            "lifetime_points_redeemed": 40,
            "lifetime_points_voided": 40,
        },
    )


def test_it_writes_the_whole_void_row_of_stamps(card, store, actor):
    stamped = ledger.add_stamps(card=card, store=store, count=2)
    entry = ledger.void_transaction(entry=stamped, store=store, reason="double", actor=actor)
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.STAMP_VOIDED,
            stamps_delta=-2,
            points_balance_after=0,
            stamps_balance_after=0,
            reason="double",
            voids_id=stamped.pk,
        ),
        {},
    )


def test_it_writes_the_whole_adjustment_row(card, other_store, actor):
    entry = ledger.adjust_points(
        card=card, points=25, reason="  goodwill  ", store=other_store, actor=actor
    )
    assert_written(
        entry,
        card,
        expected_row(
            card,
            other_store,
            actor,
            type=TransactionType.POINTS_ADJUSTED,
            points_delta=25,
            points_balance_after=25,
            stamps_balance_after=0,
            reason="goodwill",
        ),
        {"points_balance": 25},
    )


def test_an_adjustment_without_a_store_or_actor_is_a_system_row(card):
    entry = ledger.adjust_points(card=card, points=5, reason="restore")
    assert_written(
        entry,
        card,
        expected_row(
            card,
            None,
            ledger.SYSTEM,
            type=TransactionType.POINTS_ADJUSTED,
            points_delta=5,
            points_balance_after=5,
            stamps_balance_after=0,
            reason="restore",
        ),
        {"points_balance": 5},
    )


def test_it_writes_the_whole_welcome_bonus_row_and_customer(program, store, actor):
    program.welcome_bonus_points = 50
    program.save()
    card = ledger.enroll_customer(
        program=program,
        store=store,
        email="Ana@Example.COM",
        first_name="Ana",
        last_name="Lopes",
        phone="+352 621 000 000",
        birth_date=datetime.date(1990, 5, 17),
        locale="fr",
        marketing_consent=True,
        actor=actor,
    )
    entry = card.transactions.get()
    assert_written(
        entry,
        card,
        expected_row(
            card,
            store,
            actor,
            type=TransactionType.WELCOME_BONUS,
            points_delta=50,
            points_balance_after=50,
            stamps_balance_after=0,
        ),
        {"points_balance": 50, "lifetime_points_earned": 50},
    )
    assert (card.program_id, card.enrolled_store_id, card.is_active) == (program.pk, store.pk, True)
    customer = Customer.objects.get()
    assert card.customer_id == customer.pk
    assert {
        "merchant_id": customer.merchant_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "birth_date": customer.birth_date,
        "locale": customer.locale,
        "marketing_consent": customer.marketing_consent,
    } == {
        "merchant_id": program.merchant_id,
        "email": "Ana@example.com",
        "first_name": "Ana",
        "last_name": "Lopes",
        "phone": "+352 621 000 000",
        "birth_date": datetime.date(1990, 5, 17),
        "locale": "fr",
        "marketing_consent": True,
    }


def test_enrolment_stores_no_consent_and_empty_details_unless_given(program, store):
    card = ledger.enroll_customer(program=program, store=store, email="b@x.com", first_name="Bo")
    customer = card.customer
    customer.refresh_from_db()
    assert customer.marketing_consent is False
    assert (customer.last_name, customer.phone, customer.birth_date) == ("", "", None)
    assert customer.locale == program.merchant.default_locale


def test_the_enrolment_and_welcome_emails_carry_the_cards_figures(program, store):
    program.welcome_bonus_points = 50
    program.reward_description = "A free coffee"
    program.save()
    card = ledger.enroll_customer(program=program, store=store, email="c@x.com", first_name="Cy")
    card_figures = {
        "first_name": "Cy",
        "merchant_name": program.merchant.name,
        "program_name": program.name,
        "card_number": card_numbers.display(card.number),
        "points_balance": 50,
        "stamp_count": 0,
        "stamps_target": program.stamps_target,
        "reward_description": "A free coffee",
    }
    sent = {email.template: email for email in OutgoingEmail.objects.all()}
    assert set(sent) == {emails.ENROLLMENT, emails.WELCOME_BONUS}
    for email in sent.values():
        assert (email.to, email.merchant_id, email.customer_id) == (
            "c@x.com",
            program.merchant_id,
            card.customer_id,
        )
    for email in sent.values():
        # Each link is signed when its email is queued: it leads to the card.
        assert card_links.card_from_token(token_of(email.context.pop("card_url"))) == card
    assert sent[emails.ENROLLMENT].context == card_figures
    assert sent[emails.WELCOME_BONUS].context == {**card_figures, "welcome_bonus_points": 50}


def test_it_enrols_a_customer_again_in_a_new_programme_of_the_same_merchant(
    merchant, program, store, other_store
):
    first = ledger.enroll_customer(program=program, store=store, email="a@x.com", first_name="A")
    program.deleted_at = timezone.now()
    program.save()
    new_program = ProgramFactory(merchant=merchant)
    second = ledger.enroll_customer(
        program=new_program, store=other_store, email="a@x.com", first_name="A"
    )
    assert second.customer_id == first.customer_id
    assert (second.program_id, first.program_id) == (new_program.pk, program.pk)


# Card numbers


def test_it_draws_another_card_number_after_a_collision(program, store, card):
    fresh = card_numbers.generate()
    with mock.patch.object(card_numbers, "generate", side_effect=[card.number, fresh]):
        enrolled = ledger.enroll_customer(
            program=program, store=store, email="d@x.com", first_name="D"
        )
    assert enrolled.number == fresh


def test_it_gives_up_after_five_card_number_collisions(program, store, card):
    with (
        mock.patch.object(card_numbers, "generate", return_value=card.number) as generate,
        pytest.raises(RuntimeError),
    ):
        ledger.enroll_customer(program=program, store=store, email="e@x.com", first_name="E")
    assert generate.call_count == 5
    assert not Customer.objects.filter(email="e@x.com").exists()


# Limits: exactly the maximum, and one past it


def set_balance(card: Card, points: int) -> None:
    """A card already near a limit: thousands of operations would be needed to get there."""
    Card.objects.filter(pk=card.pk).update(points_balance=points)


def test_it_earns_up_to_exactly_the_maximum_balance(card, store):
    set_balance(card, MAX_POINTS_BALANCE - 10)
    entry = ledger.earn_points(card=card, store=store, points=10)
    assert entry.points_balance_after == MAX_POINTS_BALANCE
    assert counters(card)["points_balance"] == MAX_POINTS_BALANCE


def test_it_refuses_to_earn_one_point_past_the_maximum_balance(card, store):
    set_balance(card, MAX_POINTS_BALANCE - 10)
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.earn_points(card=card, store=store, points=11)
    assert refusal.value.fields is None
    assert counters(card)["points_balance"] == MAX_POINTS_BALANCE - 10
    assert not card.transactions.exists()


@pytest.mark.parametrize(
    ("operation", "field", "maximum"),
    [
        (lambda card, store, n: ledger.earn_points(card=card, store=store, points=n), "points",
         MAX_POINTS_PER_OPERATION),
        (lambda card, store, n: ledger.earn_points(card=card, store=store, purchase_amount_cents=n),
         "purchase_amount_cents", MAX_PURCHASE_CENTS),
        (lambda card, store, n: ledger.add_stamps(card=card, store=store, count=n), "count",
         MAX_STAMPS_PER_OPERATION),
    ],
    ids=["points", "purchase_amount_cents", "count"],
)  # fmt: skip
def test_it_takes_exactly_the_maximum_per_operation_and_refuses_one_more(
    card, store, operation, field, maximum
):
    operation(card, store, maximum)
    before = counters(card)
    with pytest.raises(errors.InvalidInput) as refusal:
        operation(card, store, maximum + 1)
    assert refusal.value.fields == {field: ["invalid"]}
    with pytest.raises(errors.InvalidInput) as refusal:
        operation(card, store, 0)
    assert refusal.value.fields == {field: ["invalid"]}
    assert counters(card) == before
    assert card.transactions.count() == 1


def test_it_redeems_exactly_the_maximum_points_per_operation_and_refuses_one_more(card, store):
    set_balance(card, 2 * MAX_POINTS_PER_OPERATION)
    ledger.redeem_points(card=card, store=store, points=MAX_POINTS_PER_OPERATION)
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.redeem_points(card=card, store=store, points=MAX_POINTS_PER_OPERATION + 1)
    assert refusal.value.fields == {"points": ["invalid"]}
    assert counters(card)["points_balance"] == MAX_POINTS_PER_OPERATION


def test_a_purchase_may_earn_exactly_the_maximum_points_but_not_one_more(merchant, store):
    card = CardFactory(program__merchant=merchant, program__points_per_euro=2)
    entry = ledger.earn_points(card=card, store=store, purchase_amount_cents=50_000_000)
    assert entry.points_delta == MAX_POINTS_PER_OPERATION
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.earn_points(card=card, store=store, purchase_amount_cents=50_000_050)
    assert refusal.value.fields is None
    assert counters(card)["points_balance"] == MAX_POINTS_PER_OPERATION


def test_a_purchase_of_exactly_the_minimum_earns(merchant, store):
    card = CardFactory(program__merchant=merchant, program__minimum_purchase_cents=500)
    entry = ledger.earn_points(card=card, store=store, purchase_amount_cents=500)
    assert entry.points_delta == 5


@pytest.mark.parametrize("points", [MAX_POINTS_PER_OPERATION, -MAX_POINTS_PER_OPERATION])
def test_it_adjusts_by_exactly_the_maximum(card, points):
    set_balance(card, MAX_POINTS_PER_OPERATION)
    entry = ledger.adjust_points(card=card, points=points, reason="correction")
    assert entry.points_balance_after == MAX_POINTS_PER_OPERATION + points


@pytest.mark.parametrize("points", [MAX_POINTS_PER_OPERATION + 1, -MAX_POINTS_PER_OPERATION - 1])
def test_it_refuses_an_adjustment_one_past_the_maximum(card, points):
    set_balance(card, 2 * MAX_POINTS_PER_OPERATION)
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.adjust_points(card=card, points=points, reason="correction")
    assert refusal.value.fields == {"points": ["invalid"]}
    assert not card.transactions.exists()


def test_an_adjustment_may_take_the_balance_to_exactly_zero(card, store):
    ledger.earn_points(card=card, store=store, points=40)
    entry = ledger.adjust_points(card=card, points=-40, reason="duplicate account")
    assert entry.points_balance_after == 0
    assert counters(card)["points_balance"] == 0


@pytest.mark.parametrize(
    ("points", "reason", "fields"),
    [
        (0, "why", {"points": ["invalid"]}),
        (True, "why", {"points": ["invalid"]}),
        (1.5, "why", {"points": ["invalid"]}),
        (5, "   ", {"reason": ["required"]}),
        (5, None, {"reason": ["required"]}),
    ],
)
def test_an_invalid_adjustment_names_its_field(card, points, reason, fields):
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.adjust_points(card=card, points=points, reason=reason)
    assert refusal.value.fields == fields
    assert not card.transactions.exists()


@pytest.mark.parametrize("points", [True, 2.0, "3"])
def test_earning_refuses_what_is_not_a_whole_number_by_name(card, store, points):
    with pytest.raises(errors.InvalidInput) as refusal:
        ledger.earn_points(card=card, store=store, points=points)
    assert refusal.value.fields == {"points": ["invalid"]}


def test_voiding_an_earn_when_the_balance_is_exactly_its_points_is_allowed(card, store):
    ledger.earn_points(card=card, store=store, points=10)
    earned = ledger.earn_points(card=card, store=store, points=30)
    ledger.redeem_points(card=card, store=store, points=10)
    entry = ledger.void_transaction(entry=earned, store=store)
    assert entry.points_balance_after == 0


def test_voiding_stamps_when_the_count_is_exactly_theirs_is_allowed(card, store):
    stamped = ledger.add_stamps(card=card, store=store, count=3)
    entry = ledger.void_transaction(entry=stamped, store=store)
    assert entry.stamps_balance_after == 0


def test_it_redeems_exactly_the_balance_and_exactly_the_stamps_target(card, store):
    ledger.earn_points(card=card, store=store, points=30)
    ledger.add_stamps(card=card, store=store, count=5)
    assert ledger.redeem_points(card=card, store=store, points=30).points_balance_after == 0
    assert ledger.redeem_stamps(card=card, store=store).stamps_balance_after == 0


# The store check of each operation


@pytest.mark.parametrize(
    "operation",
    [
        lambda card, store: ledger.redeem_points(card=card, store=store, points=1),
        lambda card, store: ledger.add_stamps(card=card, store=store),
        lambda card, store: ledger.redeem_stamps(card=card, store=store),
        lambda card, store: ledger.void_transaction(
            entry=card.transactions.order_by("pk").first(), store=store
        ),
        lambda card, store: ledger.adjust_points(card=card, points=1, reason="r", store=store),
    ],
    ids=["redeem", "stamps", "redeem_stamps", "void", "adjust"],
)
def test_every_operation_treats_another_merchants_store_as_not_found(
    card, store, rival_merchant, operation
):
    ledger.earn_points(card=card, store=store, points=10)
    ledger.add_stamps(card=card, store=store, count=5)
    before = counters(card)
    with pytest.raises(errors.NotFound):
        operation(card, rival_merchant["store"])
    assert counters(card) == before
    assert card.transactions.count() == 2
