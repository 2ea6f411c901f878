import uuid

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from merchants.errors import DomainError
from merchants.models import AuditEntry, Merchant
from merchants.softdelete import SoftDeleteModel

Action = AuditEntry.Action


class RestoreConflict(DomainError):
    code = "restore_conflict"
    default_detail = "A live row already takes this one's place; trash that one first."


def soft_delete_children(model: type[models.Model]) -> list[tuple[type[SoftDeleteModel], str]]:
    """(model, foreign key) of every soft-deletable model whose rows point at `model`'s:
    a merchant's stores and programmes, a store's or a programme's cards."""
    return [
        (relation.related_model, relation.field.name)
        for relation in model._meta.related_objects
        if relation.one_to_many and issubclass(relation.related_model, SoftDeleteModel)
    ]


def _trash_descendants(model, parents: models.QuerySet, now, batch) -> dict[str, int]:
    """Trash the live rows under `parents`, level by level, in set-based updates."""
    counts: dict[str, int] = {}
    for child, foreign_key in soft_delete_children(model):
        # All rows under the parents, trashed or not: a card of a programme trashed before
        # cascades existed is still under its merchant.
        under = child.all_objects.filter(**{f"{foreign_key}__in": parents.values("pk")})
        trashed = under.filter(deleted_at__isnull=True).update(deleted_at=now, trash_batch=batch)
        label = str(child._meta.verbose_name_plural)
        counts[label] = counts.get(label, 0) + trashed
        for label, count in _trash_descendants(child, under, now, batch).items():
            counts[label] = counts.get(label, 0) + count
    return counts


def trash(*, obj: SoftDeleteModel, actor=None, reason: str = "") -> dict[str, int]:
    """Hide a row and every live row under it (a merchant's stores, programmes and cards) in
    one transaction, all under one trash batch. Idempotent: a trashed row stays as it is.
    Returns how many rows of each kind the cascade trashed."""
    model = type(obj)
    now, batch = timezone.now(), uuid.uuid4()
    with transaction.atomic():
        if not model.all_objects.filter(pk=obj.pk, deleted_at__isnull=True).update(
            deleted_at=now, trash_batch=batch
        ):
            obj.refresh_from_db(fields=["deleted_at", "trash_batch"])
            return {}
        counts = _trash_descendants(model, model.all_objects.filter(pk=obj.pk), now, batch)
        record_audit(
            actor=actor,
            action=Action.TRASHED,
            obj=obj,
            merchant_id=merchant_id_of(obj),
            reason=reason,
            changes={"cascade": counts},
        )
    obj.deleted_at, obj.trash_batch = now, batch
    return counts


def _batch_models(model) -> list[type[SoftDeleteModel]]:
    found = [model]
    for child, _ in soft_delete_children(model):
        found.extend(m for m in _batch_models(child) if m not in found)
    return found


def restore(*, obj: SoftDeleteModel, actor=None) -> dict[str, int]:
    """Bring back a trashed row and exactly the rows its trash operation took with it.
    Refused while a row it belongs to (its merchant, programme, store) is in the trash, and
    when a live row has taken its place (a second live programme). Returns the counts."""
    model = type(obj)
    obj.refresh_from_db(fields=["deleted_at", "trash_batch"])
    if obj.deleted_at is None:
        return {}
    for field in model._meta.concrete_fields:
        parent_model = field.related_model
        if field.many_to_one and parent_model and issubclass(parent_model, SoftDeleteModel):
            parent = getattr(obj, field.name)
            if parent.deleted_at is not None:
                raise RestoreConflict(
                    f"{obj} cannot be restored while its {field.verbose_name} {parent} is in "
                    "the trash: restore that first."
                )
    counts: dict[str, int] = {}
    try:
        with transaction.atomic():
            if obj.trash_batch is None:
                # Trashed before batches existed: the row alone.
                model.all_objects.filter(pk=obj.pk).update(deleted_at=None)
            else:
                for batch_model in _batch_models(model):
                    restored = batch_model.all_objects.filter(trash_batch=obj.trash_batch).update(
                        deleted_at=None, trash_batch=None
                    )
                    if batch_model is not model:
                        counts[str(batch_model._meta.verbose_name_plural)] = restored
            record_audit(
                actor=actor,
                action=Action.RESTORED,
                obj=obj,
                merchant_id=merchant_id_of(obj),
                changes={"cascade": counts},
            )
    except IntegrityError:
        # e.g. a merchant's second programme while another one is live.
        raise RestoreConflict(
            f"{obj} cannot be restored: {RestoreConflict.default_detail}"
        ) from None
    obj.deleted_at, obj.trash_batch = None, None
    return counts


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
