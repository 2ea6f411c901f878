import datetime

import pytest
from django.utils import timezone

from loyalty.models import Program, Transaction
from loyalty.services import ledger
from tests.api.conftest import MANAGER_PIN, STAFF_PIN
from tests.factories import CardFactory, RewardFactory


def balance(card):
    card.refresh_from_db()
    return card.points_balance


def give(card, points):
    return ledger.earn_points(card=card, store=card.enrolled_store, points=points)


# Earn


def test_it_earns_points_for_a_purchase(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"purchase_amount_cents": 1250, "order_reference": "R-1", "staff_pin": STAFF_PIN},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["transaction"]["type"] == "points_earned"
    assert body["transaction"]["points_delta"] == 12
    assert body["transaction"]["store"] == "main"
    assert body["transaction"]["voided_by"] is None
    assert body["card"]["points_balance"] == 12
    assert body["card"]["enrolled_store"] == "main"
    entry = Transaction.objects.get(pk=body["transaction"]["id"])
    assert entry.staff_pin.staff_name == "Sam"
    assert entry.order_reference == "R-1"


def test_it_earns_a_given_number_of_points(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 40, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 201
    assert balance(card) == 40


def test_it_accepts_a_card_number_typed_with_spaces(terminal, card):
    spaced = " ".join(card.number[i : i + 4] for i in range(0, 12, 4))
    response = terminal.post(f"cards/{spaced}/points/earn/", {"points": 1, "staff_pin": STAFF_PIN})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"purchase_amount_cents": 100, "points": 1},
        {"points": 0},
        {"points": -3},
        {"points": "many"},
        {"purchase_amount_cents": 10**12},
        {"points": 1, "order_reference": "x" * 101},
    ],
)
def test_it_refuses_invalid_earn_input(terminal, card, body):
    response = terminal.post(f"cards/{card.number}/points/earn/", {**body, "staff_pin": STAFF_PIN})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "fields" in response.json()
    assert balance(card) == 0


def test_it_refuses_a_purchase_below_the_minimum(terminal, card, program):
    program.minimum_purchase_cents = 500
    program.save()
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"purchase_amount_cents": 499, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "below_minimum_purchase"
    assert balance(card) == 0


def test_it_refuses_to_earn_on_an_inactive_card(terminal, card):
    card.is_active = False
    card.save()
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 5, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "card_inactive"
    assert balance(card) == 0


def test_it_refuses_points_on_a_stamps_programme(terminal, card, program):
    program.kind = Program.Kind.STAMPS
    program.save()
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 5, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "points_not_enabled"


def test_it_refuses_to_earn_without_the_required_pin(terminal, card):
    response = terminal.post(f"cards/{card.number}/points/earn/", {"points": 5})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert balance(card) == 0


def test_it_refuses_to_earn_with_a_wrong_pin(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 5, "staff_pin": "0000"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert balance(card) == 0


def test_it_earns_without_a_pin_when_the_programme_does_not_require_one(terminal, card, program):
    program.require_staff_pin = False
    program.save()
    response = terminal.post(f"cards/{card.number}/points/earn/", {"points": 5})
    assert response.status_code == 201
    assert Transaction.objects.get(pk=response.json()["transaction"]["id"]).staff_pin is None


def test_it_does_not_find_a_mistyped_card_number(terminal, card):
    wrong = card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    response = terminal.post(f"cards/{wrong}/points/earn/", {"points": 5, "staff_pin": STAFF_PIN})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    "action", ["points/earn", "points/redeem", "points/adjust", "stamps", "stamps/redeem", ""]
)
def test_it_does_not_find_a_card_of_another_merchant(terminal, rival_merchant, action):
    rival_card = rival_merchant["card"]
    give(rival_card, 100)
    path = f"cards/{rival_card.number}/{action + '/' if action else ''}"
    body = {"points": 1, "reason": "x", "staff_pin": MANAGER_PIN}
    response = terminal.post(path, body) if action else terminal.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert balance(rival_card) == 100


# Redeem


def test_it_redeems_points(terminal, card):
    give(card, 100)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"points": 30, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 201
    assert response.json()["transaction"]["points_delta"] == -30
    assert response.json()["card"]["points_balance"] == 70


def test_it_redeems_a_reward(terminal, card, program):
    reward = RewardFactory(program=program, points_cost=80)
    give(card, 100)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"reward_id": reward.pk, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 201
    assert balance(card) == 20


def test_it_refuses_to_redeem_more_than_the_balance(terminal, card):
    give(card, 10)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"points": 11, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    assert balance(card) == 10


def test_it_refuses_a_reward_of_another_merchant(terminal, card, rival_merchant):
    reward = RewardFactory(program=rival_merchant["program"], points_cost=1)
    give(card, 10)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"reward_id": reward.pk, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "reward_unavailable"
    assert balance(card) == 10


def test_it_refuses_an_inactive_reward(terminal, card, program):
    reward = RewardFactory(program=program, points_cost=1, is_active=False)
    give(card, 10)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"reward_id": reward.pk, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "reward_unavailable"


@pytest.mark.parametrize("body", [{}, {"points": 1, "reward_id": 1}, {"reward_id": 0}])
def test_it_refuses_invalid_redeem_input(terminal, card, body):
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {**body, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_it_refuses_to_redeem_at_another_store_when_the_programme_forbids_it(
    terminal, program, other_store
):
    program.allow_cross_location_redemption = False
    program.save()
    card = CardFactory(program=program, enrolled_store=other_store)
    give(card, 50)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"points": 10, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "cross_location_not_allowed"
    assert balance(card) == 50


def test_it_refuses_to_redeem_with_a_wrong_pin(terminal, card):
    give(card, 50)
    response = terminal.post(
        f"cards/{card.number}/points/redeem/", {"points": 10, "staff_pin": "5555"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert balance(card) == 50


# Adjust


def test_a_manager_adjusts_points(terminal, card):
    give(card, 50)
    response = terminal.post(
        f"cards/{card.number}/points/adjust/",
        {"points": -20, "reason": "Double scan", "staff_pin": MANAGER_PIN},
    )
    assert response.status_code == 201
    assert response.json()["transaction"]["type"] == "points_adjusted"
    assert response.json()["transaction"]["reason"] == "Double scan"
    assert balance(card) == 30


def test_it_refuses_an_adjustment_with_a_staff_pin(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/adjust/",
        {"points": 20, "reason": "Goodwill", "staff_pin": STAFF_PIN},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert balance(card) == 0


def test_it_refuses_an_adjustment_without_a_pin_even_when_pins_are_optional(
    terminal, card, program
):
    program.require_staff_pin = False
    program.save()
    response = terminal.post(
        f"cards/{card.number}/points/adjust/", {"points": 20, "reason": "Goodwill"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"


@pytest.mark.parametrize("body", [{"points": 0, "reason": "x"}, {"points": 5}, {"reason": "x"}])
def test_it_refuses_invalid_adjustments(terminal, card, body):
    response = terminal.post(
        f"cards/{card.number}/points/adjust/", {**body, "staff_pin": MANAGER_PIN}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert balance(card) == 0


def test_it_refuses_to_adjust_below_zero(terminal, card):
    give(card, 5)
    response = terminal.post(
        f"cards/{card.number}/points/adjust/",
        {"points": -6, "reason": "x", "staff_pin": MANAGER_PIN},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    assert balance(card) == 5


def test_a_ledger_operation_answers_the_row_it_wrote_and_the_card_after_it(terminal, card, store):
    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"purchase_amount_cents": 1250, "order_reference": "R-7", "staff_pin": STAFF_PIN},
    )
    entry = Transaction.objects.get(card=card)
    card.refresh_from_db()
    assert response.status_code == 201
    assert response.json() == {
        "transaction": {
            "id": entry.pk,
            "type": "points_earned",
            "points_delta": 12,
            "points_balance_after": 12,
            "stamps_delta": 0,
            "stamps_balance_after": 0,
            "purchase_amount_cents": 1250,
            "order_reference": "R-7",
            "reason": "",
            "store": "main",
            "created_at": entry.created_at.isoformat().replace("+00:00", "Z"),
            "voided_by": None,
            "voids": None,
        },
        "card": {
            "number": card.number,
            "points_balance": 12,
            "stamp_count": 0,
            "stamps_target": card.program.stamps_target,
            "is_active": True,
            "enrolled_store": "main",
            "customer_first_name": card.customer.first_name,
            "last_activity_at": card.last_activity_at.isoformat().replace("+00:00", "Z"),
        },
    }


LEDGER_ACTIONS = {
    "points/earn": {"points": 5},
    "points/redeem": {"points": 5},
    "points/adjust": {"points": 5, "reason": "Goodwill"},
    "stamps": {},
    "stamps/redeem": {},
}


@pytest.mark.parametrize("action", LEDGER_ACTIONS)
def test_every_ledger_action_refuses_an_inactive_card(terminal, card, action):
    give(card, 50)
    ledger.add_stamps(card=card, store=card.enrolled_store, count=5)
    card.is_active = False
    card.save()
    response = terminal.post(
        f"cards/{card.number}/{action}/", {**LEDGER_ACTIONS[action], "staff_pin": MANAGER_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "card_inactive"
    assert Transaction.objects.filter(card=card).count() == 2


@pytest.mark.parametrize(
    ("action", "kind", "code"),
    [
        ("points/earn", Program.Kind.STAMPS, "points_not_enabled"),
        ("points/redeem", Program.Kind.STAMPS, "points_not_enabled"),
        ("points/adjust", Program.Kind.STAMPS, "points_not_enabled"),
        ("stamps", Program.Kind.POINTS, "stamps_not_enabled"),
        ("stamps/redeem", Program.Kind.POINTS, "stamps_not_enabled"),
    ],
)
def test_every_ledger_action_refuses_what_the_programme_does_not_collect(
    terminal, card, program, action, kind, code
):
    program.kind = kind
    program.save()
    response = terminal.post(
        f"cards/{card.number}/{action}/", {**LEDGER_ACTIONS[action], "staff_pin": MANAGER_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert not Transaction.objects.filter(card=card).exists()


@pytest.mark.parametrize("action", LEDGER_ACTIONS)
def test_every_ledger_action_refuses_a_locked_pin(terminal, card, manager_pin, action):
    from loyalty.models import StaffPin

    StaffPin.objects.filter(pk=manager_pin.pk).update(
        locked_until=timezone.now() + datetime.timedelta(minutes=5)
    )
    body = {**LEDGER_ACTIONS[action], "staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
    response = terminal.post(f"cards/{card.number}/{action}/", body)
    assert response.status_code == 403
    assert response.json()["code"] == "pin_locked"
    assert not Transaction.objects.filter(card=card).exists()
