"""Staff PINs at the terminals, and the lockouts that bound how many a stolen key can guess.

Every wrong PIN counts against the terminal key, whatever the request names: at most
PIN_MAX_FAILURES wrong PINs per PIN_LOCK_DURATION per key, after which PIN entry at that
terminal is locked. A wrong PIN sent with a `staff_id` also counts against that staff
member's own PIN. A manager's right PIN with its `staff_id` lifts the terminal's lock; a key
locked SUSPEND_AFTER_LOCKS times within SUSPEND_WINDOW is suspended until an operator lifts it.
"""

import datetime
import hmac
import logging
from typing import NoReturn

from django.db import transaction
from django.utils import timezone

from loyalty import metrics
from loyalty.errors import InvalidInput, PinInvalid, PinLocked, TerminalSuspended
from loyalty.models import Program, StaffPin, TerminalKey
from loyalty.pins import is_well_formed, pin_digest, pin_digests
from merchants.models import Store

logger = logging.getLogger(__name__)

PIN_MAX_FAILURES = 5
PIN_LOCK_DURATION = datetime.timedelta(minutes=15)
SUSPEND_AFTER_LOCKS = 3
SUSPEND_WINDOW = datetime.timedelta(hours=24)


def set_staff_pin(*, store: Store, staff_name: str, pin: str, is_manager: bool = False) -> StaffPin:
    """Create the staff member's PIN at the store, or reset it (which also unlocks it)."""
    staff_name = (staff_name or "").strip()
    if not staff_name:
        raise InvalidInput(
            "A staff name is required.",  # pragma: no mutate
            fields={"staff_name": ["required"]},
        )
    if not is_well_formed(pin):
        raise InvalidInput(
            "A PIN is 4 to 8 digits.",  # pragma: no mutate
            fields={"pin": ["invalid"]},
        )
    with transaction.atomic():
        # Under any secret still accepted: two staff with one PIN could not be told apart.
        clash = (
            StaffPin.objects.filter(store=store, pin_digest__in=pin_digests(pin), is_active=True)
            .exclude(staff_name=staff_name)
            .exists()
        )
        if clash:
            raise InvalidInput(
                "Another staff member at this store has that PIN; "  # pragma: no mutate
                "choose another.",  # pragma: no mutate
                fields={"pin": ["taken"]},
            )
        staff_pin, _ = StaffPin.objects.update_or_create(
            store=store,
            staff_name=staff_name,
            is_active=True,
            defaults={
                "pin_digest": pin_digest(pin),
                "is_manager": is_manager,
                "failed_attempts": 0,
                "locked_until": None,
            },
        )
    return staff_pin


def verify_staff_pin(
    *,
    terminal_key: TerminalKey,
    pin: str,
    staff_id: int | None = None,
    manager: bool = False,
    unlocking_terminal: bool = False,
) -> StaffPin:
    """The active StaffPin of the terminal's store that `pin` opens, or PinInvalid/PinLocked
    (TerminalSuspended once the key is suspended).

    Without `staff_id` the PIN is looked up among the store's PINs; with it, it is checked
    against that PIN. PIN entry is refused while the terminal is locked, except to unlock it
    (`unlocking_terminal`): then a wrong PIN counts against the named PIN only.
    """
    staff_pin = _open_pin(terminal_key, pin, staff_id, unlocking=unlocking_terminal)
    if manager and not staff_pin.is_manager:
        raise PinInvalid(
            "This operation needs a manager's PIN."  # pragma: no mutate
        )
    return staff_pin


def unlock_terminal(*, terminal_key: TerminalKey, manager: StaffPin) -> TerminalKey:
    """Lift the lock on PIN entry at the terminal; `manager` is the PIN that was verified
    with `unlocking_terminal`."""
    unlocked = TerminalKey.objects.filter(pk=terminal_key.pk, suspended_at__isnull=True).update(
        pin_failures=0, pin_failures_since=None, pin_locked_until=None
    )
    if not unlocked:
        raise TerminalSuspended()
    logger.info(
        "PIN entry at terminal key %s (store %s) unlocked with manager PIN %s",  # pragma: no mutate
        terminal_key.prefix,
        _store_name(terminal_key),
        manager.pk,
    )
    return TerminalKey.objects.select_related("store").get(pk=terminal_key.pk)


def lift_suspension(*, terminal_key: TerminalKey, operator) -> None:
    """The operator's way back for a suspended key: unlocked, with a clean history."""
    TerminalKey.objects.filter(pk=terminal_key.pk).update(
        suspended_at=None,
        pin_failures=0,
        pin_failures_since=None,
        pin_locked_until=None,
        last_pin_lock_at=None,
        previous_pin_lock_at=None,
    )
    logger.warning(
        "Suspension of terminal key %s (store %s) lifted by operator %s",  # pragma: no mutate
        terminal_key.prefix,
        _store_name(terminal_key),
        operator.pk,
    )


def unlock_staff_pin(*, staff_pin: StaffPin) -> StaffPin:
    StaffPin.objects.filter(pk=staff_pin.pk).update(failed_attempts=0, locked_until=None)
    staff_pin.refresh_from_db(fields=["failed_attempts", "locked_until"])
    return staff_pin


def _open_pin(terminal_key: TerminalKey, pin: str, staff_id: int | None, *, unlocking: bool):
    """The StaffPin that `pin` opens at the terminal; counts and raises on a wrong one."""
    now = timezone.now()
    digests = pin_digests(pin) if is_well_formed(pin) else []
    # Read fresh: `terminal_key` may be a copy cached by the authentication.
    terminal_locked_until, terminal_suspended_at = TerminalKey.objects.values_list(
        "pin_locked_until", "suspended_at"
    ).get(pk=terminal_key.pk)
    if terminal_suspended_at is not None:
        raise TerminalSuspended()
    if not unlocking and _is_locked(terminal_locked_until, now):
        raise PinLocked()
    candidates = StaffPin.objects.filter(store_id=terminal_key.store_id, is_active=True)
    if staff_id is not None:
        staff_pin = candidates.filter(pk=staff_id).first()
    elif digests:
        staff_pin = candidates.filter(pin_digest__in=digests).first()
    else:
        staff_pin = None
    if staff_pin is None:
        # An unknown staff_id or a PIN nobody has: a wrong guess like any other.
        _count_wrong_pin(terminal_key, None, now, unlocking=unlocking)
    if _is_locked(staff_pin.locked_until, now):
        if staff_id is None:
            # Found by its value: answering pin_locked would tell a guesser the PIN was right,
            # so it answers, and counts, exactly as a wrong PIN does.
            _count_wrong_pin(terminal_key, None, now, unlocking=unlocking)
        raise PinLocked()
    if not any(hmac.compare_digest(staff_pin.pin_digest, digest) for digest in digests):
        _count_wrong_pin(terminal_key, staff_pin, now, unlocking=unlocking)
    if staff_pin.failed_attempts or staff_pin.pin_digest != digests[0]:
        # The holder proved the PIN: their count of wrong PINs in a row starts again, and a
        # digest made with a fallback secret is re-keyed with the current one.
        StaffPin.objects.filter(pk=staff_pin.pk).update(failed_attempts=0, pin_digest=digests[0])
    return staff_pin


def _store_name(terminal_key: TerminalKey) -> str:
    return f"{terminal_key.store.merchant.slug}/{terminal_key.store.code}"


def _is_locked(locked_until, now) -> bool:
    return locked_until is not None and locked_until > now


def _count_wrong_pin(
    terminal_key: TerminalKey, staff_pin: StaffPin | None, now, *, unlocking: bool
) -> NoReturn:
    """Count one wrong PIN against the terminal and, when one was named, the staff PIN.

    Under the rows' locks (terminal first, then PIN, always in that order), parallel wrong
    guesses are counted one after the other, so no more than PIN_MAX_FAILURES - 1 of them
    are ever answered pin_invalid. While unlocking a locked terminal, only the named PIN
    counts: the terminal is locked already.
    """
    with transaction.atomic():
        terminal = (
            TerminalKey.objects.select_related("store__merchant")
            .select_for_update(of=("self",))
            .get(pk=terminal_key.pk)
        )
        if terminal.suspended_at is not None:
            raise TerminalSuspended()
        terminal_was_locked = _is_locked(terminal.pin_locked_until, now)
        if terminal_was_locked and not unlocking:
            raise PinLocked()
        if terminal_was_locked and staff_pin is None:
            # Unlocking with an unknown staff_id: there is no PIN to count against.
            raise PinInvalid()
        pin_row = None
        if staff_pin is not None:
            pin_row = StaffPin.objects.select_for_update().get(pk=staff_pin.pk)
            if _is_locked(pin_row.locked_until, now):
                raise PinLocked()
        terminal_locks = not terminal_was_locked and _count_terminal_failure(terminal, now)
        pin_locks = pin_row is not None and _count_staff_pin_failure(pin_row, now)
    if terminal_locks:
        metrics.count_pin_lockout(terminal.store)
        logger.warning(
            "PIN entry locked at terminal key %s (store %s) after %d wrong PINs",
            terminal.prefix,
            _store_name(terminal),
            PIN_MAX_FAILURES,
        )
        if terminal.suspended_at is not None:
            logger.warning(
                "Terminal key %s (store %s) suspended: "  # pragma: no mutate
                "PIN entry locked %d times within %s",  # pragma: no mutate
                terminal.prefix,
                _store_name(terminal),
                SUSPEND_AFTER_LOCKS,
                SUSPEND_WINDOW,
            )
    if pin_locks:
        logger.warning(
            "Staff PIN %s locked after %d wrong PINs in a row, last from terminal key %s "
            "(store %s)",
            pin_row.pk,
            PIN_MAX_FAILURES,
            terminal.prefix,
            _store_name(terminal),
        )
    raise PinLocked() if terminal_locks or pin_locks else PinInvalid()


def _count_terminal_failure(terminal: TerminalKey, now) -> bool:
    """Count a wrong PIN against the locked terminal row; True if it locks PIN entry."""
    if (
        terminal.pin_failures_since is None
        or terminal.pin_failures_since <= now - PIN_LOCK_DURATION
    ):
        # The last run of wrong PINs is old: start counting again.
        terminal.pin_failures = 0
        terminal.pin_failures_since = now
    terminal.pin_failures += 1
    locks = terminal.pin_failures >= PIN_MAX_FAILURES
    if locks:
        terminal.pin_failures = 0
        terminal.pin_failures_since = None
        terminal.pin_locked_until = now + PIN_LOCK_DURATION
        # SUSPEND_AFTER_LOCKS = 3: this lock, the last one and the one before it.
        if (
            terminal.previous_pin_lock_at is not None
            and terminal.previous_pin_lock_at > now - SUSPEND_WINDOW
        ):
            terminal.suspended_at = now
        terminal.previous_pin_lock_at = terminal.last_pin_lock_at
        terminal.last_pin_lock_at = now
    terminal.save(
        update_fields=[
            "pin_failures",
            "pin_failures_since",
            "pin_locked_until",
            "previous_pin_lock_at",
            "last_pin_lock_at",
            "suspended_at",
        ]
    )
    return locks


def _count_staff_pin_failure(pin_row: StaffPin, now) -> bool:
    """Count a wrong PIN against the locked staff PIN row; True if it locks the PIN."""
    pin_row.failed_attempts += 1
    locks = pin_row.failed_attempts >= PIN_MAX_FAILURES
    if locks:
        pin_row.failed_attempts = 0
        pin_row.locked_until = now + PIN_LOCK_DURATION
    pin_row.save(update_fields=["failed_attempts", "locked_until"])
    return locks


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
            raise PinInvalid(
                "A staff PIN is required."  # pragma: no mutate
            )
        return None
    return verify_staff_pin(terminal_key=terminal_key, pin=pin, staff_id=staff_id, manager=manager)
