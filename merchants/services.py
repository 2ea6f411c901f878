from django.utils import timezone

from merchants.softdelete import SoftDeleteModel


def trash(*, obj: SoftDeleteModel) -> None:
    """Hide a row without deleting it; idempotent."""
    type(obj).all_objects.filter(pk=obj.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )
    obj.refresh_from_db(fields=["deleted_at"])


def restore(*, obj: SoftDeleteModel) -> None:
    type(obj).all_objects.filter(pk=obj.pk).update(deleted_at=None)
    obj.deleted_at = None
