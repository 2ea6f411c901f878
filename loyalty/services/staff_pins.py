from django.db import transaction

from loyalty.errors import InvalidInput
from loyalty.models import StaffPin
from loyalty.pins import is_well_formed, pin_digest
from merchants.models import Store


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
