"""Soft delete: trashed rows stay in the database (the ledger points at them) but are hidden
from the default manager. `all_objects` sees everything, for the admin's trash and restore."""

from django.db import models


class LiveManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)
    # Every row one trash operation hid (the row and its cascade) shares this id, so that a
    # restore brings back exactly those, not rows trashed on their own before.
    trash_batch = models.UUIDField(null=True, blank=True, db_index=True, editable=False)

    objects = LiveManager()
    all_objects = models.Manager()

    class Meta:
        abstract = True
        # Related lookups (card.program) must reach trashed rows too.
        base_manager_name = "all_objects"

    @property
    def is_trashed(self) -> bool:
        return self.deleted_at is not None
