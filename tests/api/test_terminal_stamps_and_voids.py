import datetime

import pytest

from loyalty.models import Program, StaffPin, Transaction
from loyalty.services import ledger
from tests.api.conftest import MANAGER_PIN, STAFF_PIN
from tests.factories import CardFactory, StaffPinFactory

FAR_FUTURE = datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC)


def stamps(card):
    card.refresh_from_db()
    return card.stamp_count


# Stamps


def test_it_adds_one_stamp_by_default(terminal, card):
    response = terminal.post(f"cards/{card.number}/stamps/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 201
    assert response.json()["transaction"]["type"] == "stamp_earned"
    assert response.json()["card"]["stamp_count"] == 1
    assert response.json()["card"]["stamps_target"] == 5


def test_it_adds_several_stamps(terminal, card):
    response = terminal.post(f"cards/{card.number}/stamps/", {"count": 3, "staff_pin": STAFF_PIN})
    assert response.status_code == 201
    assert stamps(card) == 3


@pytest.mark.parametrize("count", [0, 101, "two"])
def test_it_refuses_an_invalid_stamp_count(terminal, card, count):
    response = terminal.post(
        f"cards/{card.number}/stamps/", {"count": count, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 400
    assert response.json()["fields"].keys() == {"count"}
    assert stamps(card) == 0


def test_it_refuses_stamps_on_a_points_programme(terminal, card, program):
    program.kind = Program.Kind.POINTS
    program.save()
    response = terminal.post(f"cards/{card.number}/stamps/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "stamps_not_enabled"


def test_it_refuses_stamps_on_an_inactive_card(terminal, card):
    card.is_active = False
    card.save()
    response = terminal.post(f"cards/{card.number}/stamps/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "card_inactive"


def test_it_refuses_stamps_with_a_wrong_pin(terminal, card):
    response = terminal.post(f"cards/{card.number}/stamps/", {"staff_pin": "4444"})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert stamps(card) == 0


def test_it_redeems_a_full_set_of_stamps(terminal, card):
    ledger.add_stamps(card=card, store=card.enrolled_store, count=6)
    response = terminal.post(f"cards/{card.number}/stamps/redeem/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 201
    assert response.json()["transaction"]["stamps_delta"] == -5
    assert stamps(card) == 1


def test_it_refuses_to_redeem_an_incomplete_set(terminal, card):
    ledger.add_stamps(card=card, store=card.enrolled_store, count=4)
    response = terminal.post(f"cards/{card.number}/stamps/redeem/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stamps"
    assert stamps(card) == 4


def test_it_refuses_to_redeem_stamps_at_another_store_when_forbidden(
    terminal, program, other_store
):
    program.allow_cross_location_redemption = False
    program.save()
    card = CardFactory(program=program, enrolled_store=other_store)
    ledger.add_stamps(card=card, store=other_store, count=5)
    response = terminal.post(f"cards/{card.number}/stamps/redeem/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "cross_location_not_allowed"
    assert stamps(card) == 5


def test_it_refuses_to_redeem_stamps_on_a_points_programme(terminal, card, program):
    program.kind = Program.Kind.POINTS
    program.save()
    response = terminal.post(f"cards/{card.number}/stamps/redeem/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "stamps_not_enabled"


# Void


def test_it_voids_an_earn(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    response = terminal.post(
        f"transactions/{earned.pk}/void/", {"reason": "Wrong card", "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 201
    reversal = response.json()["transaction"]
    assert reversal["type"] == "points_voided"
    assert reversal["points_delta"] == -30
    assert reversal["voids"] == earned.pk
    assert response.json()["card"]["points_balance"] == 0
    listed = terminal.get(f"cards/{card.number}/transactions/").json()["results"]
    assert [(row["id"], row["voided_by"]) for row in listed] == [
        (reversal["id"], None),
        (earned.pk, reversal["id"]),
    ]


def test_it_refuses_to_void_twice(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    assert (
        terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN}).status_code
        == 201
    )
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "already_voided"
    assert Transaction.objects.filter(voids=earned).count() == 1


def test_it_refuses_to_void_a_void(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    reversal = ledger.void_transaction(entry=earned, store=card.enrolled_store)
    response = terminal.post(f"transactions/{reversal.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "not_voidable"


def test_it_refuses_to_void_points_already_spent(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    ledger.redeem_points(card=card, store=card.enrolled_store, points=25)
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_points"
    card.refresh_from_db()
    assert card.points_balance == 5


def test_it_refuses_to_void_stamps_already_used(terminal, card):
    added = ledger.add_stamps(card=card, store=card.enrolled_store, count=5)
    ledger.redeem_stamps(card=card, store=card.enrolled_store)
    response = terminal.post(f"transactions/{added.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stamps"


def test_it_refuses_to_void_at_another_store_when_forbidden(terminal, program, other_store):
    program.allow_cross_location_redemption = False
    program.save()
    card = CardFactory(program=program, enrolled_store=other_store)
    earned = ledger.earn_points(card=card, store=other_store, points=30)
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "cross_location_not_allowed"
    assert not Transaction.objects.filter(voids=earned).exists()


def test_it_refuses_to_void_on_an_inactive_card(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    card.is_active = False
    card.save()
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 409
    assert response.json()["code"] == "card_inactive"


def test_it_refuses_to_void_with_a_wrong_pin(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": "0001"})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert not Transaction.objects.filter(voids=earned).exists()


def test_it_refuses_an_overlong_void_reason(terminal, card):
    earned = ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    response = terminal.post(
        f"transactions/{earned.pk}/void/", {"reason": "x" * 256, "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 400
    assert response.json()["fields"].keys() == {"reason"}


def test_it_does_not_find_a_transaction_of_another_merchant(terminal, rival_merchant):
    rival_card = rival_merchant["card"]
    earned = ledger.earn_points(card=rival_card, store=rival_card.enrolled_store, points=30)
    response = terminal.post(f"transactions/{earned.pk}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Transaction.objects.filter(voids=earned).exists()


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "99999999999999999999999", "1.5", "١"])
def test_it_does_not_find_a_transaction_by_a_malformed_id(terminal, raw):
    response = terminal.post(f"transactions/{raw}/void/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# PIN unlock


def test_a_manager_unlocks_a_pin(terminal, staff_pin, terminal_key):
    StaffPin.objects.filter(pk=staff_pin.pk).update(failed_attempts=0, locked_until=FAR_FUTURE)
    response = terminal.post(f"pins/{staff_pin.pk}/unlock/", {"staff_pin": MANAGER_PIN})
    assert response.status_code == 200
    assert response.json()["locked_until"] is None
    staff_pin.refresh_from_db()
    assert staff_pin.locked_until is None


def test_it_refuses_to_unlock_with_a_staff_pin(terminal, store):
    locked = StaffPinFactory(store=store, pin="2222", locked_until=FAR_FUTURE)
    response = terminal.post(f"pins/{locked.pk}/unlock/", {"staff_pin": STAFF_PIN})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    locked.refresh_from_db()
    assert locked.locked_until == FAR_FUTURE


def test_it_refuses_to_unlock_without_a_pin(terminal, staff_pin):
    response = terminal.post(f"pins/{staff_pin.pk}/unlock/", {})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"


def test_it_does_not_find_a_pin_of_another_merchant(terminal, rival_merchant):
    rival_pin = StaffPinFactory(store=rival_merchant["store"], locked_until=FAR_FUTURE)
    response = terminal.post(f"pins/{rival_pin.pk}/unlock/", {"staff_pin": MANAGER_PIN})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    rival_pin.refresh_from_db()
    assert rival_pin.locked_until is not None


def test_it_does_not_find_a_pin_of_another_store(terminal, other_store):
    other_pin = StaffPinFactory(store=other_store, locked_until=FAR_FUTURE)
    response = terminal.post(f"pins/{other_pin.pk}/unlock/", {"staff_pin": MANAGER_PIN})
    assert response.status_code == 404


def test_it_does_not_find_a_pin_by_a_malformed_id(terminal):
    response = terminal.post("pins/x/unlock/", {"staff_pin": MANAGER_PIN})
    assert response.status_code == 404
