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
from loyalty.services import pin_assignment, staff_pins
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


# Bulk assignment (loyalty.services.pin_assignment): the CSV, then the PINs one by one.


@pytest.mark.parametrize(
    ("flag", "is_manager"),
    [
        ("", False),
        ("no", False),
        ("false", False),
        ("0", False),
        ("yes", True),
        ("true", True),
        ("1", True),
        (" YES ", True),
        ("True", True),
    ],
)
def test_the_csvs_manager_flag_reads_yes_no_true_false_and_one_zero(flag, is_manager):
    entries = pin_assignment.parse_pin_csv(f"staff_name,pin,is_manager\nAnn,4821,{flag}\n")
    assert entries == [pin_assignment.PinEntry(staff_name="Ann", pin="4821", is_manager=is_manager)]


def test_the_csv_is_read_row_by_row_with_its_cells_trimmed():
    text = "pin,staff_name\n 4821 , Ann \n4822,Bo\n,\n9999\n"
    assert pin_assignment.parse_pin_csv(text) == [
        pin_assignment.PinEntry(staff_name="Ann", pin="4821", is_manager=False),
        pin_assignment.PinEntry(staff_name="Bo", pin="4822", is_manager=False),
        pin_assignment.PinEntry(staff_name="", pin="", is_manager=False),
        # A short row: the missing cells are empty, not an error here (set_staff_pin refuses).
        pin_assignment.PinEntry(staff_name="", pin="9999", is_manager=False),
    ]


@pytest.mark.parametrize(
    "text",
    ["", "staff_name\nAnn\n", "pin\n4821\n", "name,pin\nAnn,4821\n", "Ann,4821\nBo,4822\n"],
)
def test_a_csv_without_the_staff_name_and_pin_header_is_refused(text):
    with pytest.raises(InvalidInput) as refused:
        pin_assignment.parse_pin_csv(text)
    assert refused.value.detail == (
        "The CSV needs a header row with staff_name,pin and optionally is_manager."
    )
    assert refused.value.fields == {"file": ["invalid"]}


def test_a_manager_flag_other_than_yes_or_no_is_refused_with_its_line():
    text = "staff_name,pin,is_manager\nAnn,4821,yes\nBo,4822,maybe\n"
    with pytest.raises(InvalidInput) as refused:
        pin_assignment.parse_pin_csv(text)
    assert refused.value.detail == "Line 3: is_manager must be yes or no."
    assert refused.value.fields == {"file": ["invalid"]}


def _assign(store, user, *entries):
    return pin_assignment.assign_pins(
        store=store, entries=[pin_assignment.PinEntry(*entry) for entry in entries], user=user
    )


def test_assigning_pins_sets_each_and_audits_it_with_the_manager_flag(store, other_store):
    from merchants.models import AuditEntry

    operator = UserFactory(is_staff=True, is_superuser=True)
    StaffPinFactory(store=other_store, staff_name="Ann", pin="1111")  # another store's Ann
    reset = StaffPinFactory(store=store, staff_name="Bo", pin="2222", failed_attempts=2)

    outcome = _assign(store, operator, ("Ann", "4821", True), (" Bo ", "4822"))

    assert (outcome.changed, outcome.skipped) == (["Ann", "Bo"], {})
    rows = StaffPin.objects.filter(store=store).order_by("staff_name")
    assert [(p.staff_name, p.pin_digest, p.is_manager, p.failed_attempts) for p in rows] == [
        ("Ann", pin_digest("4821"), True, 0),
        ("Bo", pin_digest("4822"), False, 0),
    ]
    assert rows[1].pk == reset.pk
    entries = AuditEntry.objects.order_by("id")
    assert [
        (e.actor, e.action, e.object_type, e.object_id, e.merchant_id, e.changes) for e in entries
    ] == [
        (
            operator,
            "pin_set",
            "loyalty.staffpin",
            str(rows[0].pk),
            store.merchant_id,
            {"is_manager": True},
        ),
        (
            operator,
            "pin_set",
            "loyalty.staffpin",
            str(reset.pk),
            store.merchant_id,
            {"is_manager": False},
        ),
    ]


def test_a_refused_pin_is_skipped_with_its_reason_and_the_others_go_ahead(store):
    from merchants.models import AuditEntry

    operator = UserFactory(is_staff=True, is_superuser=True)
    StaffPinFactory(store=store, staff_name="Cy", pin="5555")

    outcome = _assign(
        store,
        operator,
        ("Ann", "4821"),
        ("", "4822"),
        ("Dan", "12"),
        ("Eve", "5555"),
        ("Ann", "9999"),
        ("Fay", "4823"),
    )

    assert outcome.changed == ["Ann", "Fay"]
    assert outcome.skipped == {
        "(no name)": "A staff name is required.",
        "Dan": "A PIN is 4 to 8 digits.",
        "Eve": "Another staff member at this store has that PIN; choose another.",
        "Ann": "given twice in this list",
    }
    assert StaffPin.objects.get(store=store, staff_name="Ann").pin_digest == pin_digest("4821")
    assert set(StaffPin.objects.values_list("staff_name", flat=True)) == {"Ann", "Cy", "Fay"}
    assert AuditEntry.objects.count() == 2


def test_up_to_five_hundred_pins_at_once(store):
    operator = UserFactory(is_staff=True, is_superuser=True)
    # The same name 500 times: one PIN set, the rest skipped as given twice.
    outcome = _assign(store, operator, *[("Ann", "4821")] * pin_assignment.MAX_PINS_AT_ONCE)
    assert (outcome.changed, outcome.skipped) == (["Ann"], {"Ann": "given twice in this list"})

    with pytest.raises(InvalidInput) as refused:
        _assign(store, operator, *[("Bo", "4822")] * 501)
    assert refused.value.detail == "At most 500 PINs at once."
    assert refused.value.fields == {"pins": ["too_many"]}
    assert not StaffPin.objects.filter(staff_name="Bo").exists()


def test_assigning_no_pins_or_at_a_trashed_store_is_refused(store):
    from merchants import services

    operator = UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(InvalidInput) as refused:
        _assign(store, operator)
    assert (refused.value.detail, refused.value.fields) == (
        "No PINs were given.",
        {"pins": ["required"]},
    )
    services.trash(obj=store)
    store.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        _assign(store, operator, ("Ann", "4821"))
    assert (refused.value.detail, refused.value.fields) == (
        "The store is in the trash.",
        {"store": ["invalid"]},
    )
    assert not StaffPin.objects.exists()


def test_a_store_scoped_manager_assigns_pins_at_their_store_only(store, other_store):
    from merchants.access import NotAllowed
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=manager, merchant=store.merchant, store=store, role=StaffMembership.Role.MANAGER
    )
    assert _assign(store, manager, ("Ann", "4821")).changed == ["Ann"]
    with pytest.raises(NotAllowed):
        _assign(other_store, manager, ("Bo", "4822"))
    assert list(StaffPin.objects.values_list("staff_name", flat=True)) == ["Ann"]
