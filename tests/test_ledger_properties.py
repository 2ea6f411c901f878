"""Random sequences of ledger operations against one card, checked after every step against
a model of what each operation should do and against the ledger itself."""

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty import errors
from loyalty.services import ledger
from loyalty.services.ledger import VOIDABLE_TYPES
from tests.factories import CardFactory, ProgramFactory, StoreFactory

STAMPS_TARGET = 4

operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 300)),
        st.tuples(st.just("earn_purchase"), st.integers(1, 40_000)),
        st.tuples(st.just("redeem"), st.integers(1, 400)),
        st.tuples(st.just("stamps"), st.integers(1, 5)),
        st.tuples(st.just("redeem_stamps"), st.none()),
        st.tuples(st.just("void"), st.integers(0, 50)),
        st.tuples(st.just("adjust"), st.integers(-200, 200).filter(bool)),
    ),
    min_size=1,
    max_size=30,
)


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
def test_balances_always_equal_the_ledger_and_never_go_negative(steps):
    program = ProgramFactory(stamps_target=STAMPS_TARGET, points_per_euro="1.5")
    store = StoreFactory(merchant=program.merchant)
    card = CardFactory(program=program, enrolled_store=store)
    points, stamps = 0, 0
    entries = []
    voided = set()

    for name, arg in steps:
        expected_error = None
        if name == "earn":
            delta = (arg, 0)
        elif name == "earn_purchase":
            delta = (arg * 3 // 200, 0)
        elif name == "redeem":
            delta = (-arg, 0)
            expected_error = errors.InsufficientPoints if arg > points else None
        elif name == "stamps":
            delta = (0, arg)
        elif name == "redeem_stamps":
            delta = (0, -STAMPS_TARGET)
            expected_error = errors.InsufficientStamps if stamps < STAMPS_TARGET else None
        elif name == "adjust":
            delta = (arg, 0)
            expected_error = errors.InsufficientPoints if points + arg < 0 else None
        else:
            if not entries:
                continue
            target = entries[arg % len(entries)]
            delta = (-target.points_delta, -target.stamps_delta)
            if target.type not in VOIDABLE_TYPES:
                expected_error = errors.NotVoidable
            elif target.pk in voided:
                expected_error = errors.AlreadyVoided
            elif points + delta[0] < 0:
                expected_error = errors.InsufficientPoints
            elif stamps + delta[1] < 0:
                expected_error = errors.InsufficientStamps

        try:
            if name == "earn":
                entry = ledger.earn_points(card=card, store=store, points=arg)
            elif name == "earn_purchase":
                entry = ledger.earn_points(card=card, store=store, purchase_amount_cents=arg)
            elif name == "redeem":
                entry = ledger.redeem_points(card=card, store=store, points=arg)
            elif name == "stamps":
                entry = ledger.add_stamps(card=card, store=store, count=arg)
            elif name == "redeem_stamps":
                entry = ledger.redeem_stamps(card=card, store=store)
            elif name == "adjust":
                entry = ledger.adjust_points(card=card, points=arg, reason="property test")
            else:
                entry = ledger.void_transaction(entry=target, store=store)
        except errors.DomainError as exc:
            assert expected_error is not None, f"{name}({arg}) refused: {exc.code}"
            assert isinstance(exc, expected_error), (name, arg, exc.code)
        else:
            assert expected_error is None, f"{name}({arg}) should have been refused"
            points += delta[0]
            stamps += delta[1]
            entries.append(entry)
            if name == "void":
                voided.add(target.pk)
            assert (entry.points_balance_after, entry.stamps_balance_after) == (points, stamps)

        card.refresh_from_db()
        sums = card.transactions.aggregate(p=Sum("points_delta"), s=Sum("stamps_delta"))
        assert card.points_balance == (sums["p"] or 0) == points
        assert card.stamp_count == (sums["s"] or 0) == stamps
        assert card.points_balance >= 0 and card.stamp_count >= 0
