"""Bulk PIN assignment for a store: create or reset many staff PINs at once, each through
`set_staff_pin`, each reported as changed or skipped with the reason."""

import csv
import io
from dataclasses import dataclass

from django.db import transaction

from loyalty.errors import DomainError, InvalidInput
from loyalty.services.card_operations import BulkOutcome
from loyalty.services.staff_pins import set_staff_pin
from merchants.access import require_operations
from merchants.models import AuditEntry, Store
from merchants.services import record_audit

MAX_PINS_AT_ONCE = 500
CSV_COLUMNS = ("staff_name", "pin", "is_manager")


@dataclass(frozen=True)
class PinEntry:
    staff_name: str
    pin: str
    is_manager: bool = False


def parse_pin_csv(text: str) -> list[PinEntry]:
    """Rows of `staff_name,pin,is_manager` (a header row naming them is required;
    is_manager is yes/no, true/false or 1/0, empty for no)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"staff_name", "pin"} <= set(reader.fieldnames):
        raise InvalidInput(
            "The CSV needs a header row with staff_name,pin and optionally is_manager.",
            fields={"file": ["invalid"]},
        )
    entries = []
    for line, row in enumerate(reader, start=2):
        flag = (row.get("is_manager") or "").strip().lower()
        if flag not in ("", "yes", "no", "true", "false", "1", "0"):
            raise InvalidInput(
                f"Line {line}: is_manager must be yes or no.", fields={"file": ["invalid"]}
            )
        entries.append(
            PinEntry(
                staff_name=(row.get("staff_name") or "").strip(),
                pin=(row.get("pin") or "").strip(),
                is_manager=flag in ("yes", "true", "1"),
            )
        )
    return entries


def assign_pins(*, store: Store, entries: list[PinEntry], user) -> BulkOutcome:
    """Create or reset each PIN (a reset also unlocks it); an entry the service refuses (a
    malformed PIN, one another staff member has) is skipped with its reason, keyed by the
    staff name, and the others go ahead."""
    require_operations(user=user, merchant_id=store.merchant_id, store_id=store.pk)
    if store.deleted_at is not None:
        raise InvalidInput("The store is in the trash.", fields={"store": ["invalid"]})
    if not entries:
        raise InvalidInput("No PINs were given.", fields={"pins": ["required"]})
    if len(entries) > MAX_PINS_AT_ONCE:
        raise InvalidInput(
            f"At most {MAX_PINS_AT_ONCE} PINs at once.", fields={"pins": ["too_many"]}
        )
    outcome = BulkOutcome()
    seen: set[str] = set()
    for entry in entries:
        name = entry.staff_name or "(no name)"
        if entry.staff_name in seen:
            outcome.skipped[name] = "given twice in this list"
            continue
        seen.add(entry.staff_name)
        try:
            with transaction.atomic():
                staff_pin = set_staff_pin(
                    store=store,
                    staff_name=entry.staff_name,
                    pin=entry.pin,
                    is_manager=entry.is_manager,
                )
                record_audit(
                    actor=user,
                    action=AuditEntry.Action.PIN_SET,
                    obj=staff_pin,
                    merchant_id=store.merchant_id,
                    changes={"is_manager": entry.is_manager},
                )
        except DomainError as exc:
            outcome.skipped[name] = exc.detail
        else:
            outcome.changed.append(staff_pin.staff_name)
    return outcome
