"""What the services refuse as invalid input reaches the terminal as a 400 whose `fields` name
the field at fault, or no `fields` when no single field is at fault."""

from loyalty.models import Card
from loyalty.services import ledger
from loyalty.services.ledger import MAX_POINTS_BALANCE, MAX_POINTS_PER_OPERATION
from tests.api.conftest import MANAGER_PIN, STAFF_PIN
from tests.factories import CardFactory


def test_a_zero_adjustment_names_the_points_field(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/adjust/",
        {"points": 0, "reason": "Nothing", "staff_pin": MANAGER_PIN},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "points must be a non-zero whole number.",
        "fields": {"points": ["invalid"]},
    }
    assert not card.transactions.exists()


def test_a_purchase_earning_more_than_the_maximum_names_no_field(terminal, merchant, store):
    card = CardFactory(
        program__merchant=merchant,
        program__require_staff_pin=True,
        program__points_per_euro=2,
        enrolled_store=store,
    )
    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"purchase_amount_cents": MAX_POINTS_PER_OPERATION * 50 + 50, "staff_pin": STAFF_PIN},
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "The purchase would earn more points than allowed at once.",
    }
    assert not card.transactions.exists()


def test_earning_past_the_maximum_balance_names_no_field(terminal, card):
    Card.objects.filter(pk=card.pk).update(points_balance=MAX_POINTS_BALANCE)
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 1, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "detail": "The card's balance would exceed the allowed maximum.",
    }
    card.refresh_from_db()
    assert card.points_balance == MAX_POINTS_BALANCE


def test_an_adjustment_through_the_api_records_the_store_and_the_managers_pin(
    terminal, card, store, manager_pin
):
    ledger.earn_points(card=card, store=store, points=10)
    response = terminal.post(
        f"cards/{card.number}/points/adjust/",
        {"points": -4, "reason": "Double scan", "staff_pin": MANAGER_PIN},
    )
    assert response.status_code == 201
    entry = card.transactions.get(pk=response.json()["transaction"]["id"])
    assert (entry.store_id, entry.staff_pin_id, entry.reason, entry.points_delta) == (
        store.pk,
        manager_pin.pk,
        "Double scan",
        -4,
    )
