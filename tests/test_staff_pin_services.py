"""The staff-PIN services on their own: what setting a PIN stores and refuses, and what
unlocking a terminal and lifting a suspension reset."""

import datetime
import logging

import pytest
import time_machine
from django.utils import timezone

from loyalty.errors import InvalidInput, PinInvalid, PinLocked, TerminalSuspended
from loyalty.models import StaffPin, TerminalKey
from loyalty.pins import pin_digest
from loyalty.services import staff_pins
from tests.factories import StaffPinFactory, StoreFactory, TerminalKeyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "pin", "fields"),
    [
        ("", "1234", {"staff_name": ["required"]}),
        ("   ", "1234", {"staff_name": ["required"]}),
        (None, "1234", {"staff_name": ["required"]}),
        ("Sam", "12", {"pin": ["invalid"]}),
        ("Sam", "12a4", {"pin": ["invalid"]}),
    ],
)
def test_it_refuses_a_pin_without_a_name_or_of_the_wrong_shape(store, name, pin, fields):
    with pytest.raises(InvalidInput) as refused:
        staff_pins.set_staff_pin(store=store, staff_name=name, pin=pin)
    assert refused.value.fields == fields
    assert not StaffPin.objects.exists()


def test_a_new_pin_is_a_staff_members_not_a_managers(store):
    staff_pin = staff_pins.set_staff_pin(store=store, staff_name="  Sam  ", pin="1234")
    stored = StaffPin.objects.get(pk=staff_pin.pk)
    assert (stored.staff_name, stored.is_manager, stored.is_active) == ("Sam", False, True)
    assert stored.pin_digest == pin_digest("1234")


def test_setting_a_pin_again_resets_and_unlocks_it(store):
    locked = StaffPinFactory(
        store=store,
        staff_name="Sam",
        pin="1111",
        failed_attempts=3,
        locked_until=timezone.now() + datetime.timedelta(minutes=10),
    )
    staff_pin = staff_pins.set_staff_pin(store=store, staff_name="Sam", pin="2222", is_manager=True)
    assert staff_pin.pk == locked.pk
    stored = StaffPin.objects.get(pk=locked.pk)
    assert (stored.failed_attempts, stored.locked_until, stored.is_manager) == (0, None, True)
    assert stored.pin_digest == pin_digest("2222")


def test_the_same_pin_is_free_at_another_store_and_once_its_holder_left(store):
    StaffPinFactory(store=StoreFactory(merchant=store.merchant), staff_name="Elsewhere", pin="1234")
    StaffPinFactory(store=store, staff_name="Gone", pin="1234", is_active=False)
    staff_pin = staff_pins.set_staff_pin(store=store, staff_name="Sam", pin="1234")
    assert staff_pin.pin_digest == pin_digest("1234")


def test_unlocking_a_terminal_clears_its_count_and_lock_and_no_other(store, caplog):
    now = timezone.now()
    locked = {
        "pin_failures": 3,
        "pin_failures_since": now,
        "pin_locked_until": now + datetime.timedelta(minutes=15),
    }
    terminal_key, other = (
        TerminalKeyFactory(store=store, **locked),
        TerminalKeyFactory(store=store, **locked),
    )
    manager = StaffPinFactory(store=store, is_manager=True)
    with caplog.at_level(logging.INFO, logger="loyalty.services.staff_pins"):
        unlocked = staff_pins.unlock_terminal(terminal_key=terminal_key, manager=manager)
    assert (unlocked.pin_failures, unlocked.pin_failures_since, unlocked.pin_locked_until) == (
        0,
        None,
        None,
    )
    assert unlocked.store == store
    assert TerminalKey.objects.get(pk=other.pk).pin_failures == 3
    assert (
        f"PIN entry at terminal key {terminal_key.prefix} (store {store.merchant.slug}/"
        f"{store.code}) unlocked with manager PIN {manager.pk}"
    ) in caplog.text


def test_a_suspended_terminal_cannot_be_unlocked_by_a_manager(store):
    terminal_key = TerminalKeyFactory(store=store, suspended_at=timezone.now(), pin_failures=2)
    with pytest.raises(TerminalSuspended):
        staff_pins.unlock_terminal(
            terminal_key=terminal_key, manager=StaffPinFactory(store=store, is_manager=True)
        )
    assert TerminalKey.objects.get(pk=terminal_key.pk).pin_failures == 2


def test_lifting_a_suspension_starts_the_key_afresh(store, caplog):
    now = timezone.now()
    terminal_key = TerminalKeyFactory(
        store=store,
        suspended_at=now,
        pin_failures=2,
        pin_failures_since=now,
        pin_locked_until=now + datetime.timedelta(minutes=15),
        last_pin_lock_at=now,
        previous_pin_lock_at=now - datetime.timedelta(hours=1),
    )
    operator = UserFactory(is_staff=True)
    with caplog.at_level(logging.WARNING, logger="loyalty.services.staff_pins"):
        staff_pins.lift_suspension(terminal_key=terminal_key, operator=operator)
    terminal_key.refresh_from_db()
    assert (
        terminal_key.suspended_at,
        terminal_key.pin_failures,
        terminal_key.pin_failures_since,
        terminal_key.pin_locked_until,
        terminal_key.last_pin_lock_at,
        terminal_key.previous_pin_lock_at,
    ) == (None, 0, None, None, None, None)
    assert (
        f"Suspension of terminal key {terminal_key.prefix} (store {store.merchant.slug}/"
        f"{store.code}) lifted by operator {operator.pk}"
    ) in caplog.text


def test_only_an_active_pin_of_the_terminals_store_opens(store):
    terminal_key = TerminalKeyFactory(store=store)
    StaffPinFactory(store=StoreFactory(merchant=store.merchant), staff_name="Elsewhere", pin="1234")
    StaffPinFactory(store=store, staff_name="Gone", pin="5678", is_active=False)
    for pin in ("1234", "5678"):
        with pytest.raises(PinInvalid):
            staff_pins.verify_staff_pin(terminal_key=terminal_key, pin=pin)
    assert TerminalKey.objects.get(pk=terminal_key.pk).pin_failures == 2


def test_a_malformed_pin_is_a_wrong_guess(store):
    terminal_key = TerminalKeyFactory(store=store)
    StaffPinFactory(store=store, pin="1234")
    with pytest.raises(PinInvalid):
        staff_pins.verify_staff_pin(terminal_key=terminal_key, pin="12a4")
    assert TerminalKey.objects.get(pk=terminal_key.pk).pin_failures == 1


def test_setting_the_pin_of_a_name_that_left_makes_a_new_one(store):
    gone = StaffPinFactory(store=store, staff_name="Sam", pin="1111", is_active=False)
    staff_pin = staff_pins.set_staff_pin(store=store, staff_name="Sam", pin="2222")
    assert staff_pin.pk != gone.pk
    assert StaffPin.objects.get(pk=gone.pk).pin_digest == pin_digest("1111")


def test_unlocking_a_staff_pin_clears_its_count_and_lock(store):
    locked = StaffPinFactory(
        store=store, failed_attempts=4, locked_until=timezone.now() + datetime.timedelta(minutes=5)
    )
    unlocked = staff_pins.unlock_staff_pin(staff_pin=locked)
    assert (unlocked.failed_attempts, unlocked.locked_until) == (0, None)
    stored = StaffPin.objects.get(pk=locked.pk)
    assert (stored.failed_attempts, stored.locked_until) == (0, None)


def test_a_lock_holds_until_its_last_instant(store):
    terminal_key = TerminalKeyFactory(store=store)
    staff_pin = StaffPinFactory(store=store, pin="1234")
    until = timezone.now() + datetime.timedelta(minutes=5)
    StaffPin.objects.filter(pk=staff_pin.pk).update(locked_until=until)
    with (
        time_machine.travel(until - datetime.timedelta(microseconds=1), tick=False),
        pytest.raises(PinLocked),
    ):
        staff_pins.verify_staff_pin(terminal_key=terminal_key, pin="1234", staff_id=staff_pin.pk)
    with time_machine.travel(until, tick=False):
        opened = staff_pins.verify_staff_pin(
            terminal_key=terminal_key, pin="1234", staff_id=staff_pin.pk
        )
    assert opened.pk == staff_pin.pk


def wrong_guess(terminal_key, staff_id=None):
    with pytest.raises((PinInvalid, PinLocked)) as raised:
        staff_pins.verify_staff_pin(terminal_key=terminal_key, pin="0000", staff_id=staff_id)
    return raised.value.code


def test_a_lock_starts_both_counts_again(store):
    terminal_key = TerminalKeyFactory(store=store)
    staff_pin = StaffPinFactory(store=store, pin="1234")
    codes = [wrong_guess(terminal_key, staff_pin.pk) for _ in range(staff_pins.PIN_MAX_FAILURES)]
    assert codes[-1] == "pin_locked"
    terminal_key.refresh_from_db()
    staff_pin.refresh_from_db()
    assert (terminal_key.pin_failures, terminal_key.pin_failures_since) == (0, None)
    assert staff_pin.failed_attempts == 0


def test_the_terminals_count_starts_again_at_exactly_fifteen_minutes(store):
    terminal_key = TerminalKeyFactory(store=store)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        wrong_guess(terminal_key)
    with time_machine.travel(start + staff_pins.PIN_LOCK_DURATION, tick=False):
        wrong_guess(terminal_key)
    terminal_key.refresh_from_db()
    assert terminal_key.pin_failures == 1


@pytest.mark.parametrize(("hours", "suspended"), [(24, False), (23.99, True)])
def test_a_third_lock_suspends_only_within_24_hours_of_the_first(store, hours, suspended):
    start = timezone.now()
    terminal_key = TerminalKeyFactory(
        store=store,
        previous_pin_lock_at=start,
        last_pin_lock_at=start + datetime.timedelta(hours=1),
    )
    with time_machine.travel(start + datetime.timedelta(hours=hours), tick=False):
        for _ in range(staff_pins.PIN_MAX_FAILURES):
            wrong_guess(terminal_key)
    terminal_key.refresh_from_db()
    assert (terminal_key.suspended_at is not None) is suspended


def test_unlocking_with_an_unknown_staff_id_is_a_wrong_pin_not_a_lock(store):
    terminal_key = TerminalKeyFactory(
        store=store, pin_locked_until=timezone.now() + datetime.timedelta(minutes=10)
    )
    with pytest.raises(PinInvalid):
        staff_pins.verify_staff_pin(
            terminal_key=terminal_key, pin="1234", staff_id=999_999, unlocking_terminal=True
        )
