"""PIN_SECRET rotates without locking any store out: PINs stored under a fallback still open,
and are re-keyed with the current secret on their next right entry."""

import pytest

from loyalty.errors import InvalidInput, PinInvalid
from loyalty.models import StaffPin
from loyalty.pins import pin_digest
from loyalty.services.staff_pins import set_staff_pin, verify_staff_pin
from tests.factories import TerminalKeyFactory

OLD_SECRET = "old-pin-secret-old-pin-secret-old-pin-secret"
NEW_SECRET = "new-pin-secret-new-pin-secret-new-pin-secret"


@pytest.fixture
def pin_set_under_the_old_secret(settings, store):
    settings.PIN_SECRET = OLD_SECRET
    settings.PIN_SECRET_FALLBACKS = []
    staff_pin = set_staff_pin(store=store, staff_name="Sam", pin="1234")
    old_digest = staff_pin.pin_digest
    settings.PIN_SECRET = NEW_SECRET
    assert pin_digest("1234") != old_digest
    return staff_pin


@pytest.mark.parametrize("named", [False, True])
def test_a_pin_stored_under_a_fallback_opens_and_is_re_keyed(
    settings, store, pin_set_under_the_old_secret, named
):
    settings.PIN_SECRET_FALLBACKS = [OLD_SECRET]
    terminal_key = TerminalKeyFactory(store=store)
    staff_id = pin_set_under_the_old_secret.pk if named else None

    opened = verify_staff_pin(terminal_key=terminal_key, pin="1234", staff_id=staff_id)

    assert opened.pk == pin_set_under_the_old_secret.pk
    assert StaffPin.objects.get(pk=opened.pk).pin_digest == pin_digest("1234")
    # Re-keyed: it opens once the old secret is gone.
    settings.PIN_SECRET_FALLBACKS = []
    assert verify_staff_pin(terminal_key=terminal_key, pin="1234").pk == opened.pk


def test_without_the_fallback_a_pin_stored_under_the_old_secret_is_wrong(
    settings, store, pin_set_under_the_old_secret
):
    terminal_key = TerminalKeyFactory(store=store)
    with pytest.raises(PinInvalid):
        verify_staff_pin(terminal_key=terminal_key, pin="1234")
    terminal_key.refresh_from_db()
    assert terminal_key.pin_failures == 1


def test_a_wrong_pin_is_not_re_keyed(settings, store, pin_set_under_the_old_secret):
    settings.PIN_SECRET_FALLBACKS = [OLD_SECRET]
    terminal_key = TerminalKeyFactory(store=store)
    with pytest.raises(PinInvalid):
        verify_staff_pin(
            terminal_key=terminal_key, pin="4321", staff_id=pin_set_under_the_old_secret.pk
        )
    stored = StaffPin.objects.get(pk=pin_set_under_the_old_secret.pk)
    assert stored.pin_digest == pin_set_under_the_old_secret.pin_digest
    assert stored.failed_attempts == 1


def test_a_pin_another_holds_under_a_fallback_is_taken(
    settings, store, pin_set_under_the_old_secret
):
    settings.PIN_SECRET_FALLBACKS = [OLD_SECRET]
    with pytest.raises(InvalidInput) as refused:
        set_staff_pin(store=store, staff_name="Alex", pin="1234")
    assert refused.value.fields == {"pin": ["taken"]}
