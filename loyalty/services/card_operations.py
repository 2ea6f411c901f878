"""What operators and merchants' managers do to cards, one card or many: restore points,
grant a bonus, deactivate and reactivate. Every balance change goes through the ledger
services; every operation is written to the audit trail with who, for which merchant and why.
"""

import logging
from dataclasses import dataclass, field

from django.db import transaction

from loyalty.errors import DomainError, InvalidInput
from loyalty.models import Card, Transaction
from loyalty.services import ledger
from merchants.access import require_operations, scope_for
from merchants.log_events import log_event_on_commit
from merchants.models import AuditEntry, Merchant, Store
from merchants.services import record_audit

logger = logging.getLogger(__name__)

Action = AuditEntry.Action


def actor_for(user) -> ledger.Actor:
    """Operators act on a merchant's behalf (`acting_admin`); a merchant's own staff act as
    themselves (`acting_user`)."""
    if scope_for(user).is_operator:
        return ledger.Actor(admin=user)
    return ledger.Actor(user=user)


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["required"]})
    return reason


def restore_points(*, card: Card, points: int, reason: str, user) -> Transaction:
    """Give back points a card lost wrongly (an expiry, a mistaken void): one
    `points_adjusted` ledger row stamped with the user, and its audit entry."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InvalidInput(
            "Points to restore must be a positive whole number.", fields={"points": ["invalid"]}
        )
    reason = _required_reason(reason)
    require_operations(
        user=user, merchant_id=card.program.merchant_id, store_id=card.enrolled_store_id
    )
    with transaction.atomic():
        entry = ledger.adjust_points(card=card, points=points, reason=reason, actor=actor_for(user))
        record_audit(
            actor=user,
            action=Action.POINTS_RESTORED,
            obj=card,
            merchant_id=entry.merchant_id,
            reason=reason,
            changes={"points": points, "transaction_id": entry.pk},
        )
    return entry


@dataclass
class BulkOutcome:
    """How many cards an operation changed, and which it skipped and why."""

    changed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        text = f"{len(self.changed)} changed, {len(self.skipped)} skipped"
        if self.skipped:
            reasons = "; ".join(f"{number}: {why}" for number, why in self.skipped.items())
            text += f" ({reasons})"
        return text + "."


def grant_bonus(*, cards, points: int, reason: str, user) -> BulkOutcome:
    """One `points_adjusted` row per card through the ledger service, each card in its own
    transaction: a card that refuses (inactive, stamps only) is skipped, not the lot."""
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise InvalidInput(
            "Bonus points must be a positive whole number.", fields={"points": ["invalid"]}
        )
    reason = _required_reason(reason)
    actor = actor_for(user)
    outcome = BulkOutcome()
    for card in cards:
        try:
            require_operations(
                user=user, merchant_id=card.program.merchant_id, store_id=card.enrolled_store_id
            )
            with transaction.atomic():
                entry = ledger.adjust_points(card=card, points=points, reason=reason, actor=actor)
                record_audit(
                    actor=user,
                    action=Action.BONUS_GRANTED,
                    obj=card,
                    merchant_id=entry.merchant_id,
                    reason=reason,
                    changes={"points": points, "transaction_id": entry.pk},
                )
        except DomainError as exc:
            outcome.skipped[card.number] = exc.detail
        else:
            outcome.changed.append(card.number)
    return outcome


def _set_active(*, cards, active: bool, reason: str, user, action: str) -> BulkOutcome:
    outcome = BulkOutcome()
    cards = list(cards)
    # For the log: the merchants' slugs and the stores' codes, in two queries for the lot.
    merchants = dict(
        Merchant.all_objects.filter(pk__in={c.program.merchant_id for c in cards}).values_list(
            "pk", "slug"
        )
    )
    stores = dict(
        Store.all_objects.filter(pk__in={c.enrolled_store_id for c in cards}).values_list(
            "pk", "code"
        )
    )
    for card in cards:
        try:
            require_operations(
                user=user, merchant_id=card.program.merchant_id, store_id=card.enrolled_store_id
            )
        except DomainError as exc:
            outcome.skipped[card.number] = exc.detail
            continue
        if card.deleted_at is not None:
            outcome.skipped[card.number] = "in the trash"
            continue
        with transaction.atomic():
            # Compare-and-set: a card already in the wanted state is skipped, not rewritten.
            updated = Card.objects.filter(pk=card.pk, is_active=not active).update(is_active=active)
            if updated:
                record_audit(
                    actor=user,
                    action=action,
                    obj=card,
                    merchant_id=card.program.merchant_id,
                    reason=reason,
                )
                log_event_on_commit(
                    logger,
                    "card_reactivated" if active else "card_deactivated",
                    merchant=merchants.get(card.program.merchant_id),
                    store=stores.get(card.enrolled_store_id),
                    card_id=card.pk,
                    user_id=user.pk,
                )
        if updated:
            outcome.changed.append(card.number)
        else:
            outcome.skipped[card.number] = "already active" if active else "already inactive"
    return outcome


def deactivate_cards(*, cards, reason: str, user) -> BulkOutcome:
    return _set_active(
        cards=cards,
        active=False,
        reason=_required_reason(reason),
        user=user,
        action=Action.CARD_DEACTIVATED,
    )


def reactivate_cards(*, cards, user, reason: str = "") -> BulkOutcome:
    return _set_active(
        cards=cards,
        active=True,
        reason=(reason or "").strip(),
        user=user,
        action=Action.CARD_REACTIVATED,
    )
