from django.db import IntegrityError, models, transaction
from django.utils import timezone

from merchants.errors import DomainError
from merchants.models import AuditEntry, Merchant
from merchants.softdelete import SoftDeleteModel


class RestoreConflict(DomainError):
    code = "restore_conflict"
    default_detail = "A live row already takes this one's place; trash that one first."


def trash(*, obj: SoftDeleteModel) -> None:
    """Hide a row without deleting it; idempotent."""
    type(obj).all_objects.filter(pk=obj.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )
    obj.refresh_from_db(fields=["deleted_at"])


def restore(*, obj: SoftDeleteModel) -> None:
    try:
        with transaction.atomic():
            type(obj).all_objects.filter(pk=obj.pk).update(deleted_at=None)
    except IntegrityError:
        # e.g. a merchant's second programme while another one is live.
        raise RestoreConflict(
            f"{obj} cannot be restored: {RestoreConflict.default_detail}"
        ) from None
    obj.deleted_at = None


def record_audit(
    *,
    actor,
    action: str,
    obj: models.Model,
    merchant_id: int | None,
    reason: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    """One line of the audit trail; call it inside the transaction of what it records."""
    return AuditEntry.objects.create(
        actor=actor,
        merchant_id=merchant_id,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        reason=reason,
        changes=changes or {},
    )


def merchant_id_of(obj: models.Model) -> int | None:
    """The merchant a row belongs to: itself, or its `merchant`, `store` or `program`'s."""
    if isinstance(obj, Merchant):
        return obj.pk
    if hasattr(obj, "merchant_id"):
        return obj.merchant_id
    for parent in ("program", "store", "enrolled_store"):
        if hasattr(obj, f"{parent}_id"):
            return merchant_id_of(getattr(obj, parent))
    return None


def save_with_audit(*, obj: models.Model, actor, changed: list[str]) -> models.Model:
    """Save a row an admin form edited (a merchant, store or programme) and record who
    changed which fields, in one transaction."""
    created = obj.pk is None
    with transaction.atomic():
        obj.save()
        record_audit(
            actor=actor,
            action=AuditEntry.Action.CREATED if created else AuditEntry.Action.CHANGED,
            obj=obj,
            merchant_id=merchant_id_of(obj),
            changes={"fields": changed},
        )
    return obj
