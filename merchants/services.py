from django.db import IntegrityError, transaction
from django.utils import timezone

from merchants.errors import DomainError
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
