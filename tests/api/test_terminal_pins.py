import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from loyalty.models import StaffPin, TerminalKey, Transaction
from loyalty.services.staff_pins import PIN_MAX_FAILURES
from tests.api.conftest import MANAGER_PIN, STAFF_PIN, Terminal


def earn(terminal, card, pin, staff_id=None):
    body = {"points": 1, "staff_pin": pin}
    if staff_id is not None:
        body["staff_id"] = staff_id
    return terminal.post(f"cards/{card.number}/points/earn/", body)


def codes(responses):
    return [r.json().get("code", r.status_code) for r in responses]


def test_five_wrong_pins_for_a_staff_member_lock_their_pin(terminal, card, staff_pin):
    answers = [earn(terminal, card, "0000", staff_pin.pk) for _ in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    assert all(r.status_code == 403 for r in answers)
    # Now even the right PIN is refused, with or without the staff_id.
    assert codes([earn(terminal, card, STAFF_PIN, staff_pin.pk)]) == ["pin_locked"]
    assert codes([earn(terminal, card, STAFF_PIN)]) == ["pin_locked"]
    staff_pin.refresh_from_db()
    assert staff_pin.locked_until > timezone.now() + datetime.timedelta(minutes=14)
    # Other staff are not affected.
    assert earn(terminal, card, MANAGER_PIN).status_code == 201
    assert Transaction.objects.filter(card=card).count() == 1


def test_a_lock_expires_after_fifteen_minutes(terminal, card, staff_pin):
    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000", staff_pin.pk)
    StaffPin.objects.filter(pk=staff_pin.pk).update(
        locked_until=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201


def test_a_right_pin_starts_the_staff_members_count_again(terminal, card, staff_pin):
    for _ in range(PIN_MAX_FAILURES - 1):
        earn(terminal, card, "0000", staff_pin.pk)
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201
    assert codes([earn(terminal, card, "0000", staff_pin.pk)]) == ["pin_invalid"]
    staff_pin.refresh_from_db()
    assert staff_pin.failed_attempts == 1


def test_five_wrong_pins_without_a_staff_id_lock_pin_entry_at_the_terminal(
    terminal, card, terminal_key, staff_pin
):
    answers = [earn(terminal, card, f"000{n}") for n in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    assert codes([earn(terminal, card, STAFF_PIN)]) == ["pin_locked"]
    # Staff who name themselves can still work; their own PIN is not locked.
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now()


def test_a_right_pin_does_not_reset_the_terminals_count(terminal, card, terminal_key):
    # Otherwise one known PIN would allow endless guessing of another.
    for _ in range(PIN_MAX_FAILURES - 1):
        earn(terminal, card, "0000")
        assert earn(terminal, card, STAFF_PIN).status_code == 201
    assert codes([earn(terminal, card, "0000")]) == ["pin_locked"]


def test_the_terminals_count_starts_again_after_fifteen_quiet_minutes(terminal, card, terminal_key):
    for _ in range(PIN_MAX_FAILURES - 1):
        earn(terminal, card, "0000")
    TerminalKey.objects.filter(pk=terminal_key.pk).update(
        pin_failures_since=timezone.now() - datetime.timedelta(minutes=16)
    )
    assert codes([earn(terminal, card, "0000")]) == ["pin_invalid"]


def test_an_unknown_staff_id_counts_against_the_terminal(
    terminal, card, terminal_key, rival_merchant
):
    assert codes([earn(terminal, card, STAFF_PIN, staff_id=999999)]) == ["pin_invalid"]
    terminal_key.refresh_from_db()
    assert terminal_key.pin_failures == 1


def test_a_terminal_lock_is_per_terminal_key(terminal, card, store):
    from tests.factories import TerminalKeyFactory

    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000")
    other = Terminal(TerminalKeyFactory(store=store))
    assert earn(other, card, STAFF_PIN).status_code == 201


def test_a_manager_unlocks_a_locked_pin_through_the_api(terminal, card, staff_pin, manager_pin):
    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000", staff_pin.pk)
    response = terminal.post(
        f"pins/{staff_pin.pk}/unlock/", {"staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
    )
    assert response.status_code == 200
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201


def _in_parallel(terminal_key, card, bodies):
    barrier = threading.Barrier(len(bodies))
    answers = []

    def send(body):
        try:
            terminal = Terminal(terminal_key)
            barrier.wait()
            answers.append(terminal.post(f"cards/{card.number}/points/earn/", body))
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_guesses_for_a_staff_pin_never_exceed_the_limit(
    terminal_key, staff_pin, manager_pin, card
):
    body = {"points": 1, "staff_pin": "0000", "staff_id": staff_pin.pk}
    answers = _in_parallel(terminal_key, card, [body] * 12)
    assert sorted(codes(answers)) == ["pin_invalid"] * 4 + ["pin_locked"] * 8
    staff_pin.refresh_from_db()
    assert staff_pin.locked_until > timezone.now()
    assert not Transaction.objects.filter(card=card).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_guesses_at_a_terminal_never_exceed_the_limit(
    terminal_key, staff_pin, manager_pin, card
):
    bodies = [{"points": 1, "staff_pin": f"{5000 + n}"} for n in range(12)]
    answers = _in_parallel(terminal_key, card, bodies)
    assert sorted(codes(answers)) == ["pin_invalid"] * 4 + ["pin_locked"] * 8
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now()


def _in_a_while():  # noqa: N802
    return timezone.now() + datetime.timedelta(minutes=15)
