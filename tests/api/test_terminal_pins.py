import datetime
import logging
import threading

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from loyalty.api.authentication import forget_cached_keys
from loyalty.models import StaffPin, TerminalKey, Transaction
from loyalty.services.staff_pins import PIN_MAX_FAILURES
from tests.api.conftest import MANAGER_PIN, STAFF_PIN, Terminal
from tests.factories import StaffPinFactory, TerminalKeyFactory


def earn(terminal, card, pin, staff_id=None):
    body = {"points": 1, "staff_pin": pin}
    if staff_id is not None:
        body["staff_id"] = staff_id
    return terminal.post(f"cards/{card.number}/points/earn/", body)


def codes(responses):
    return [r.json().get("code", r.status_code) for r in responses]


def test_five_wrong_pins_for_a_staff_member_lock_their_pin_and_the_terminal(
    terminal, terminal_key, card, store, staff_pin
):
    answers = [earn(terminal, card, "0000", staff_pin.pk) for _ in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    assert all(r.status_code == 403 for r in answers)
    # Now even the right PIN is refused, with or without the staff_id.
    assert codes([earn(terminal, card, STAFF_PIN, staff_pin.pk)]) == ["pin_locked"]
    assert codes([earn(terminal, card, STAFF_PIN)]) == ["pin_locked"]
    staff_pin.refresh_from_db()
    assert staff_pin.locked_until > timezone.now() + datetime.timedelta(minutes=14)
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now() + datetime.timedelta(minutes=14)
    # At another terminal the staff member's own PIN stays locked; other staff can work.
    other = Terminal(TerminalKeyFactory(store=store))
    assert codes([earn(other, card, STAFF_PIN, staff_pin.pk)]) == ["pin_locked"]
    assert earn(other, card, MANAGER_PIN).status_code == 201
    assert Transaction.objects.filter(card=card).count() == 1


def test_a_lock_expires_after_fifteen_minutes(terminal, card, staff_pin):
    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000", staff_pin.pk)
    with time_machine.travel(_in(minutes=15, seconds=1)):
        assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201


def test_a_right_pin_starts_the_staff_members_count_again(terminal, card, staff_pin):
    for _ in range(PIN_MAX_FAILURES - 1):
        earn(terminal, card, "0000", staff_pin.pk)
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201
    staff_pin.refresh_from_db()
    assert staff_pin.failed_attempts == 0
    # Once the terminal's own count has lapsed, one more wrong PIN is the first in a row.
    with time_machine.travel(_in(minutes=16)):
        assert codes([earn(terminal, card, "0000", staff_pin.pk)]) == ["pin_invalid"]
    staff_pin.refresh_from_db()
    assert staff_pin.failed_attempts == 1


def test_five_wrong_pins_without_a_staff_id_lock_pin_entry_at_the_terminal(
    terminal, card, terminal_key, staff_pin, manager_pin
):
    answers = [earn(terminal, card, f"000{n}") for n in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    assert codes([earn(terminal, card, STAFF_PIN)]) == ["pin_locked"]
    # Naming a staff member does not get around the terminal's lock.
    assert codes([earn(terminal, card, STAFF_PIN, staff_pin.pk)]) == ["pin_locked"]
    assert codes([earn(terminal, card, MANAGER_PIN, manager_pin.pk)]) == ["pin_locked"]
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now()
    assert not Transaction.objects.filter(card=card).exists()


def test_every_wrong_pin_counts_against_the_terminal_whatever_the_body_names(
    terminal, card, terminal_key, store, staff_pin, manager_pin
):
    others = [
        StaffPinFactory(store=store, staff_name=f"Clerk {n}", pin=f"55{n:02d}") for n in range(6)
    ]
    named = [staff_pin, manager_pin, *others]
    answers = [
        earn(terminal, card, "0000", named[0].pk),
        earn(terminal, card, "0000", named[1].pk),
        earn(terminal, card, "0001"),
        earn(terminal, card, "0000", named[2].pk),
        earn(terminal, card, "0000", 999_999),
    ]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    # A stolen key gets no more guesses by naming other staff members.
    later = [earn(terminal, card, "0000", pin.pk) for pin in named]
    assert codes(later) == ["pin_locked"] * len(named)
    assert (
        StaffPin.objects.filter(pk__in=[pin.pk for pin in named[3:]], failed_attempts=0).count()
        == 5
    )
    # Counted against the terminal: five in all, then it locked.
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now()


def test_without_a_staff_id_a_locked_pins_right_value_answers_as_a_wrong_one(
    terminal, card, terminal_key, store, staff_pin
):
    # The staff member's PIN was locked from another terminal.
    other = Terminal(TerminalKeyFactory(store=store))
    for _ in range(PIN_MAX_FAILURES):
        earn(other, card, "0000", staff_pin.pk)
    right = earn(terminal, card, STAFF_PIN)
    wrong = earn(terminal, card, "4321")
    assert (right.status_code, right.content) == (wrong.status_code, wrong.content)
    assert right.json()["code"] == "pin_invalid"
    terminal_key.refresh_from_db()
    assert terminal_key.pin_failures == 2
    assert not Transaction.objects.filter(card=card).exists()


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
    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000")
    other = Terminal(TerminalKeyFactory(store=store))
    assert earn(other, card, STAFF_PIN).status_code == 201


def test_a_manager_unlocks_the_terminal_then_a_locked_pin_through_the_api(
    terminal, card, staff_pin, manager_pin
):
    for _ in range(PIN_MAX_FAILURES):
        earn(terminal, card, "0000", staff_pin.pk)
    manager = {"staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
    assert codes([terminal.post(f"pins/{staff_pin.pk}/unlock/", manager)]) == ["pin_locked"]
    assert terminal.post("terminal/unlock/", manager).status_code == 200
    assert codes([earn(terminal, card, STAFF_PIN, staff_pin.pk)]) == ["pin_locked"]
    response = terminal.post(f"pins/{staff_pin.pk}/unlock/", manager)
    assert response.status_code == 200
    assert earn(terminal, card, STAFF_PIN, staff_pin.pk).status_code == 201


def lock_the_terminal(terminal, card):
    answers = [earn(terminal, card, f"000{n}") for n in range(PIN_MAX_FAILURES)]
    assert codes(answers)[-1] == "pin_locked"


def test_a_managers_right_pin_with_its_staff_id_unlocks_the_terminal(
    terminal, card, terminal_key, store, manager_pin, caplog
):
    lock_the_terminal(terminal, card)
    with caplog.at_level(logging.INFO, logger="loyalty.services.staff_pins"):
        response = terminal.post(
            "terminal/unlock/", {"staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
        )
    assert response.status_code == 200
    assert response.json() == {
        "prefix": terminal_key.prefix,
        "store": "main",
        "pin_locked_until": None,
    }
    assert f"PIN entry at terminal key {terminal_key.prefix} (store alice-bakery/main)" in (
        caplog.text
    )
    assert earn(terminal, card, STAFF_PIN).status_code == 201
    # Unlocking starts the count again: five more wrong PINs before the next lock.
    answers = [earn(terminal, card, f"000{n}") for n in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]


def test_a_staff_members_right_pin_does_not_unlock_the_terminal(
    terminal, card, terminal_key, staff_pin
):
    lock_the_terminal(terminal, card)
    response = terminal.post("terminal/unlock/", {"staff_pin": STAFF_PIN, "staff_id": staff_pin.pk})
    assert codes([response]) == ["pin_invalid"]
    assert codes([earn(terminal, card, STAFF_PIN)]) == ["pin_locked"]


def test_wrong_pins_while_unlocking_count_against_the_managers_own_pin(
    terminal, card, terminal_key, manager_pin
):
    lock_the_terminal(terminal, card)
    wrong = {"staff_pin": "1111", "staff_id": manager_pin.pk}
    answers = [terminal.post("terminal/unlock/", wrong) for _ in range(PIN_MAX_FAILURES)]
    assert codes(answers) == ["pin_invalid"] * 4 + ["pin_locked"]
    manager_pin.refresh_from_db()
    assert manager_pin.locked_until > timezone.now()
    right = {"staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
    assert codes([terminal.post("terminal/unlock/", right)]) == ["pin_locked"]
    terminal_key.refresh_from_db()
    assert terminal_key.pin_locked_until > timezone.now()


@pytest.mark.parametrize(
    ("body", "field"),
    [({"staff_pin": MANAGER_PIN}, "staff_id"), ({"staff_id": 1}, "staff_pin")],
)
def test_unlocking_the_terminal_needs_a_pin_and_its_staff_id(terminal, body, field):
    response = terminal.post("terminal/unlock/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {field}


def test_every_lock_is_logged_with_the_keys_prefix_and_store(
    terminal, card, terminal_key, staff_pin, caplog
):
    with caplog.at_level(logging.WARNING, logger="loyalty.services.staff_pins"):
        for _ in range(PIN_MAX_FAILURES):
            earn(terminal, card, "0000", staff_pin.pk)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"PIN entry locked at terminal key {terminal_key.prefix} (store alice-bakery/main) "
        "after 5 wrong PINs" in messages
    )
    assert (
        f"Staff PIN {staff_pin.pk} locked after 5 wrong PINs in a row, last from terminal key "
        f"{terminal_key.prefix} (store alice-bakery/main)" in messages
    )
    # No PIN, digest or staff name in the log.
    assert "0000" not in caplog.text and "Sam" not in caplog.text


def test_a_terminal_locked_three_times_within_a_day_is_suspended(
    terminal, card, terminal_key, manager_pin, caplog
):
    start = timezone.now()
    for hours in (0, 10):
        with time_machine.travel(start + datetime.timedelta(hours=hours)):
            lock_the_terminal(terminal, card)
    terminal_key.refresh_from_db()
    assert terminal_key.suspended_at is None
    with (
        time_machine.travel(start + datetime.timedelta(hours=23)),
        caplog.at_level(logging.WARNING, logger="loyalty.services.staff_pins"),
    ):
        lock_the_terminal(terminal, card)
        terminal_key.refresh_from_db()
        assert terminal_key.suspended_at is not None
        assert (
            f"Terminal key {terminal_key.prefix} (store alice-bakery/main) suspended" in caplog.text
        )
        # The right PINs, and the manager's unlock, are refused at once.
        assert codes([earn(terminal, card, STAFF_PIN)]) == ["terminal_suspended"]
        right = {"staff_pin": MANAGER_PIN, "staff_id": manager_pin.pk}
        assert codes([terminal.post("terminal/unlock/", right)]) == ["terminal_suspended"]
        # Once each process's cached copy of the key is renewed, every call is refused.
        forget_cached_keys()
        response = terminal.get(f"cards/{card.number}/")
        assert (response.status_code, response.json()["code"]) == (403, "terminal_suspended")
    assert not Transaction.objects.filter(card=card).exists()


def test_three_locks_spread_over_more_than_a_day_do_not_suspend(terminal, card, terminal_key):
    start = timezone.now()
    for hours in (0, 13, 25):
        with time_machine.travel(start + datetime.timedelta(hours=hours)):
            lock_the_terminal(terminal, card)
    terminal_key.refresh_from_db()
    assert terminal_key.suspended_at is None
    # 13 h, 25 h and 30 h are three locks within a day.
    with time_machine.travel(start + datetime.timedelta(hours=30)):
        lock_the_terminal(terminal, card)
    terminal_key.refresh_from_db()
    assert terminal_key.suspended_at is not None


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


def _in(**delta):
    return timezone.now() + datetime.timedelta(**delta)
