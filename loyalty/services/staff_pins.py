import datetime
import hmac
from typing import NoReturn

from django.db import connection, transaction
from django.utils import timezone

from loyalty.errors import InvalidInput, PinInvalid, PinLocked
from loyalty.models import Program, StaffPin, TerminalKey
from loyalty.pins import is_well_formed, pin_digest
from merchants.models import Store

PIN_MAX_FAILURES = 5
PIN_LOCK_DURATION = datetime.timedelta(minutes=15)


def set_staff_pin(*, store: Store, staff_name: str, pin: str, is_manager: bool = False) -> StaffPin:
    """Create the staff member's PIN at the store, or reset it (which also unlocks it)."""
    staff_name = (staff_name or "").strip()
    if not staff_name:
        raise InvalidInput("A staff name is required.", fields={"staff_name": ["required"]})
    if not is_well_formed(pin):
        raise InvalidInput("A PIN is 4 to 8 digits.", fields={"pin": ["invalid"]})
    digest = pin_digest(pin)
    with transaction.atomic():
        clash = (
            StaffPin.objects.filter(store=store, pin_digest=digest, is_active=True)
            .exclude(staff_name=staff_name)
            .exists()
        )
        if clash:
            raise InvalidInput(
                "Another staff member at this store has that PIN; choose another.",
                fields={"pin": ["taken"]},
            )
        staff_pin, _ = StaffPin.objects.update_or_create(
            store=store,
            staff_name=staff_name,
            is_active=True,
            defaults={
                "pin_digest": digest,
                "is_manager": is_manager,
                "failed_attempts": 0,
                "locked_until": None,
            },
        )
    return staff_pin


def verify_staff_pin(
    *, terminal_key: TerminalKey, pin: str, staff_id: int | None = None, manager: bool = False
) -> StaffPin:
    """The active StaffPin of the terminal's store that `pin` opens, or PinInvalid/PinLocked.

    With `staff_id`, a wrong PIN counts against that staff member's PIN; without it, a wrong
    PIN matches no row and counts against the terminal key. Either count locks PIN entry
    for PIN_LOCK_DURATION after PIN_MAX_FAILURES wrong PINs.
    """
    now = timezone.now()
    digest = pin_digest(pin) if is_well_formed(pin) else ""
    if staff_id is None:
        found = _active_pin_by_digest(terminal_key, digest, now)
        if found is None:
            # Raises PinLocked, rather than counting, while the terminal is locked.
            _count_terminal_failure(terminal_key, now)
        staff_pin, pin_locked, terminal_locked = found
        if terminal_locked:
            raise PinLocked()
    else:
        staff_pin = StaffPin.objects.filter(
            pk=staff_id, store_id=terminal_key.store_id, is_active=True
        ).first()
        if staff_pin is None:
            # An unknown staff_id is a wrong guess like any other.
            _count_terminal_failure(terminal_key, now)
        if _is_locked(staff_pin.locked_until, now):
            raise PinLocked()
        if not hmac.compare_digest(staff_pin.pin_digest, digest):
            _count_staff_pin_failure(staff_pin, now)
        pin_locked = False
    if pin_locked:
        raise PinLocked()
    if staff_pin.failed_attempts:
        # The PIN's holder proved it: their count of wrong PINs in a row starts again.
        StaffPin.objects.filter(pk=staff_pin.pk, failed_attempts__gt=0).update(failed_attempts=0)
    if manager and not staff_pin.is_manager:
        raise PinInvalid("This operation needs a manager's PIN.")
    return staff_pin


def unlock_staff_pin(*, staff_pin: StaffPin) -> StaffPin:
    StaffPin.objects.filter(pk=staff_pin.pk).update(failed_attempts=0, locked_until=None)
    staff_pin.refresh_from_db(fields=["failed_attempts", "locked_until"])
    return staff_pin


_ACTIVE_PIN_BY_DIGEST_SQL = f"""
    SELECT pin.id, pin.staff_name, pin.is_manager, pin.failed_attempts,
           pin.locked_until IS NOT NULL AND pin.locked_until > %(now)s,
           (SELECT terminal.pin_locked_until > %(now)s
            FROM {TerminalKey._meta.db_table} terminal WHERE terminal.id = %(key)s)
    FROM {StaffPin._meta.db_table} pin
    WHERE pin.store_id = %(store)s AND pin.pin_digest = %(digest)s AND pin.is_active
"""


def _active_pin_by_digest(terminal_key, digest, now) -> tuple[StaffPin, bool, bool] | None:
    """The store's active PIN with this digest, whether it is locked, and whether PIN entry
    at the terminal is locked (read fresh: `terminal_key` may be a cached copy).

    One SQL statement: it runs on every terminal operation, where the ORM's own cost would
    be a good part of the time spent."""
    with connection.cursor() as cursor:
        cursor.execute(
            _ACTIVE_PIN_BY_DIGEST_SQL,
            {
                "now": connection.ops.adapt_datetimefield_value(now),
                "key": terminal_key.pk,
                "store": terminal_key.store_id,
                "digest": digest,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pin_id, staff_name, is_manager, failed_attempts, pin_locked, terminal_locked = row
    staff_pin = StaffPin(
        pk=pin_id,
        store_id=terminal_key.store_id,
        staff_name=staff_name,
        pin_digest=digest,
        is_manager=bool(is_manager),
        failed_attempts=failed_attempts,
    )
    return staff_pin, bool(pin_locked), bool(terminal_locked)


def _is_locked(locked_until, now) -> bool:
    return locked_until is not None and locked_until > now


def _count_staff_pin_failure(staff_pin: StaffPin, now) -> NoReturn:
    # Under the row lock, parallel wrong guesses are counted one after the other, so no
    # more than PIN_MAX_FAILURES of them are ever answered pin_invalid.
    with transaction.atomic():
        row = StaffPin.objects.select_for_update().get(pk=staff_pin.pk)
        if _is_locked(row.locked_until, now):
            raise PinLocked()
        row.failed_attempts += 1
        row.locked_until = None
        if row.failed_attempts >= PIN_MAX_FAILURES:
            row.failed_attempts = 0
            row.locked_until = now + PIN_LOCK_DURATION
        row.save(update_fields=["failed_attempts", "locked_until"])
    raise PinLocked() if row.locked_until else PinInvalid()


def _count_terminal_failure(terminal_key: TerminalKey, now) -> NoReturn:
    with transaction.atomic():
        row = TerminalKey.objects.select_for_update().get(pk=terminal_key.pk)
        if _is_locked(row.pin_locked_until, now):
            raise PinLocked()
        if row.pin_failures_since is None or row.pin_failures_since <= now - PIN_LOCK_DURATION:
            # The last run of wrong PINs is old: start counting again.
            row.pin_failures = 0
            row.pin_failures_since = now
        row.pin_failures += 1
        row.pin_locked_until = None
        if row.pin_failures >= PIN_MAX_FAILURES:
            row.pin_failures = 0
            row.pin_failures_since = None
            row.pin_locked_until = now + PIN_LOCK_DURATION
        row.save(update_fields=["pin_failures", "pin_failures_since", "pin_locked_until"])
    raise PinLocked() if row.pin_locked_until else PinInvalid()


def authorize_terminal_staff(
    *,
    terminal_key: TerminalKey,
    program: Program | None,
    pin: str | None,
    staff_id: int | None = None,
    manager: bool = False,
) -> StaffPin | None:
    """The staff member behind a terminal operation, or None when no PIN is needed.

    Manager operations always need a manager's PIN; others need a PIN when the programme
    requires one. A PIN given when none is required is checked all the same, so the ledger
    never records a wrong one.
    """
    if pin is None:
        if manager or (program is not None and program.require_staff_pin):
            raise PinInvalid("A staff PIN is required.")
        return None
    return verify_staff_pin(terminal_key=terminal_key, pin=pin, staff_id=staff_id, manager=manager)
