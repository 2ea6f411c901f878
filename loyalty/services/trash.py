"""Permanent deletion of merchants, stores, programmes and cards, for rows without ledger
history only: the ledger is never deleted, so a row it points at (even through a card)
stays, in the trash or anonymised. Trashing and restoring are `merchants.services`."""

from dataclasses import dataclass

from django.db import models, transaction

from customers.models import Customer
from loyalty.models import Card, Program, Reward, StaffPin, TerminalKey, Transaction
from merchants.errors import DomainError
from merchants.models import AuditEntry, Merchant, Store
from merchants.services import merchant_id_of, record_audit
from merchants.softdelete import SoftDeleteModel
from messaging.models import OutgoingEmail


class HasLedgerHistory(DomainError):
    code = "has_ledger_history"
    default_detail = (
        "It has ledger history, which is never deleted: keep it in the trash, or anonymise "
        "its customers."
    )


class NotInTrash(DomainError):
    code = "not_in_trash"
    default_detail = "Only rows in the trash can be deleted permanently: move it there first."


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting a row permanently removes, children first, and whether it may."""

    obj: SoftDeleteModel
    parts: list[tuple[str, models.QuerySet]]
    has_ledger_history: bool

    def listing(self, limit: int = 20) -> list[tuple[str, int, list[str]]]:
        """(kind, how many, the first `limit` of them) for the confirmation page."""
        return [
            (label, rows.count(), [str(row) for row in rows[:limit]])
            for label, rows in self.parts
            if rows.exists()
        ]


def deletion_plan(obj: SoftDeleteModel) -> DeletionPlan:
    if isinstance(obj, Card):
        cards = Card.all_objects.filter(pk=obj.pk)
        parts = [("cards", cards)]
        ledger = Transaction.objects.filter(card_id=obj.pk)
    elif isinstance(obj, Program):
        cards = Card.all_objects.filter(program=obj)
        parts = [
            ("cards", cards),
            ("rewards", Reward.objects.filter(program=obj)),
            ("programmes", Program.all_objects.filter(pk=obj.pk)),
        ]
        ledger = Transaction.objects.filter(card__in=cards)
    elif isinstance(obj, Store):
        cards = Card.all_objects.filter(enrolled_store=obj)
        parts = [
            ("cards", cards),
            ("staff PINs", StaffPin.objects.filter(store=obj)),
            ("terminal API keys", TerminalKey.objects.filter(store=obj)),
            ("stores", Store.all_objects.filter(pk=obj.pk)),
        ]
        ledger = Transaction.objects.filter(models.Q(card__in=cards) | models.Q(store_id=obj.pk))
    elif isinstance(obj, Merchant):
        cards = Card.all_objects.filter(program__merchant=obj)
        parts = [
            ("cards", cards),
            ("rewards", Reward.objects.filter(program__merchant=obj)),
            ("programmes", Program.all_objects.filter(merchant=obj)),
            ("staff PINs", StaffPin.objects.filter(store__merchant=obj)),
            ("terminal API keys", TerminalKey.objects.filter(store__merchant=obj)),
            ("emails", OutgoingEmail.objects.filter(merchant=obj)),
            ("customers", Customer.objects.filter(merchant=obj)),
            ("stores", Store.all_objects.filter(merchant=obj)),
            ("merchants", Merchant.all_objects.filter(pk=obj.pk)),
        ]
        ledger = Transaction.objects.filter(merchant_id=obj.pk)
    else:
        raise TypeError(f"{type(obj).__name__} has no permanent deletion.")
    return DeletionPlan(obj=obj, parts=parts, has_ledger_history=ledger.exists())


def delete_permanently(*, obj: SoftDeleteModel, actor) -> dict[str, int]:
    """Delete a trashed row and everything under it, in one transaction; refused when any
    of it has ledger history. Returns how many rows of each kind went."""
    with transaction.atomic():
        obj = type(obj).all_objects.select_for_update().get(pk=obj.pk)
        if obj.deleted_at is None:
            raise NotInTrash()
        plan = deletion_plan(obj)
        if plan.has_ledger_history:
            raise HasLedgerHistory(f"{obj}: {HasLedgerHistory.default_detail}")
        record_audit(
            actor=actor,
            action=AuditEntry.Action.DELETED,
            obj=obj,
            merchant_id=None if isinstance(obj, Merchant) else merchant_id_of(obj),
        )
        return {label: rows.delete()[0] for label, rows in plan.parts}
