"""Wallet passes: made on the customer's request, marked stale by every balance change (in
the ledger's own UPDATE of the card), pushed after the commit, and caught up by the periodic
sync.

A push reads the card, sends it, then marks the pass up to date only if the card still holds
what was sent (compare-and-set): a change that landed meanwhile keeps it stale, so the next
push sends it, whichever push reaches Google last.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from loyalty import metrics
from loyalty.errors import WalletDisabled
from loyalty.models import Card, Program, WalletClass, WalletPass
from loyalty.wallet import config, passes
from loyalty.wallet.client import WalletApiError, WalletClient
from merchants.log_events import log_event
from merchants.models import Merchant

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
# A pass failing in this many sync runs in a row is reported at ERROR (and in the admin).
FAILING_AFTER_RUNS = 3
# The run's record keeps at most this many ids of failed cards (and the count of all).
MAX_REPORTED_IDS = 1000

State = Card.WalletPassState


def request_pass(*, card: Card) -> WalletPass:
    """The card's pass, made on the first request: the card is marked stale, and the pass
    pushed (inserted at Google) after the commit."""
    if not config.is_enabled():
        raise WalletDisabled()
    with transaction.atomic():
        wallet_pass, created = WalletPass.objects.get_or_create(
            card=card, defaults={"requested_at": timezone.now()}
        )
        if created:
            Card.all_objects.filter(pk=card.pk).update(wallet_pass_state=State.STALE)
            push_after_commit(card.pk)
    return wallet_pass


def push_after_commit(card_id: int) -> None:
    """Push the card's pass once the current transaction commits (nothing on a rollback)."""
    if config.is_enabled():
        transaction.on_commit(lambda: _queue_push(card_id), robust=True)


def _queue_push(card_id: int) -> None:
    from loyalty.tasks import push_wallet_pass

    push_wallet_pass.delay(card_id)


@dataclass
class SyncCounts:
    pushed: int = 0
    failed: int = 0
    failed_card_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "pushed": self.pushed,
            "failed": self.failed,
            "failed_card_ids": self.failed_card_ids,
        }


class _Pusher:
    """Pushes passes through one client, each programme's class at most once. A sync run
    (`counts_runs`) counts each failure as one more failed run on the pass."""

    def __init__(
        self, client: WalletClient, *, force_classes: bool = False, counts_runs: bool = False
    ):
        self.client = client
        self.issuer_id = settings.GOOGLE_WALLET_ISSUER_ID
        self.force_classes = force_classes
        self.counts_runs = counts_runs
        self.classes_done: set[int] = set()

    def push(self, card_id: int) -> str:
        """Push one card's pass; the error, or empty on success. A failure is recorded on
        the pass and logged."""
        card = (
            Card.all_objects.select_related("program__merchant", "customer", "wallet_pass")
            .filter(pk=card_id)
            .first()
        )
        if card is None or not hasattr(card, "wallet_pass"):
            return ""
        wallet_pass = card.wallet_pass
        try:
            self._ensure_class(card.program)
            self.client.upsert(
                "loyaltyObject",
                passes.loyalty_object(self.issuer_id, card),
                exists=wallet_pass.inserted_at is not None,
            )
        except WalletApiError as exc:
            if exc.status == 404 and wallet_pass.inserted_at is not None:
                # The object is gone at Google: the next push inserts it again.
                WalletPass.objects.filter(pk=card.pk).update(inserted_at=None)
            self._record_failure(card, exc)
            metrics.count_wallet_push(succeeded=False)
            return str(exc)
        now = timezone.now()
        WalletPass.objects.filter(pk=card.pk).update(
            inserted_at=Coalesce(F("inserted_at"), now),
            synced_at=now,
            failed_runs=0,
            last_error="",
        )
        metrics.count_wallet_push(succeeded=True)
        live_cards = Card.all_objects.filter(pk=card.pk).exclude(wallet_pass_state=State.NONE)
        shown = live_cards.filter(
            points_balance=card.points_balance,
            stamp_count=card.stamp_count,
            is_active=card.is_active,
            deleted_at=card.deleted_at,
        )
        if not shown.update(wallet_pass_state=State.SYNCED):
            live_cards.update(wallet_pass_state=State.STALE)
        return ""

    def _record_failure(self, card: Card, error: WalletApiError) -> None:
        """The error on the pass (and, in a sync run, one more failed run), and its log
        record: WARNING, or ERROR once the pass has failed FAILING_AFTER_RUNS sync runs in a
        row. The record gives the HTTP status, not Google's words, which may quote the pass
        (the customer's first name): those are on the pass in the admin (last error)."""
        wallet_pass = WalletPass.objects.filter(pk=card.pk)
        wallet_pass.update(last_error=str(error), last_failed_at=timezone.now())
        runs = None
        if self.counts_runs:
            wallet_pass.update(failed_runs=F("failed_runs") + 1)
            runs = wallet_pass.values_list("failed_runs", flat=True).first() or 0
        exhausted = runs is not None and runs >= FAILING_AFTER_RUNS
        log_event(
            logger,
            "wallet_sync_exhausted" if exhausted else "wallet_sync_failed",
            level=logging.ERROR if exhausted else logging.WARNING,
            merchant=card.program.merchant.slug,
            card_id=card.pk,
            http_status=error.status,
            failed_runs=runs,
        )

    def _ensure_class(self, program: Program) -> None:
        if program.pk in self.classes_done:
            return
        resource = passes.loyalty_class(self.issuer_id, program)
        digest = passes.digest(resource)
        pushed = WalletClass.objects.filter(program=program).first()
        if self.force_classes or pushed is None or pushed.payload_digest != digest:
            self.client.upsert(
                "loyaltyClass",
                resource,
                exists=pushed is not None and pushed.class_id == resource["id"],
            )
            WalletClass.objects.update_or_create(
                program=program,
                defaults={
                    "class_id": resource["id"],
                    "payload_digest": digest,
                    "synced_at": timezone.now(),
                },
            )
        self.classes_done.add(program.pk)


def push_pass(*, card_id: int, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Push one card's pass now (after a change's commit). A failure is recorded on the pass,
    which stays stale for the periodic sync. Returns whether it was pushed."""
    if not config.is_enabled():
        return False
    return not _Pusher(WalletClient.from_settings(sleep=sleep)).push(card_id)


def sync_stale_passes(
    *,
    merchants: list[Merchant] | None = None,
    card_ids: list[int] | None = None,
    force: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncCounts:
    """Push every stale pass (of the given merchants or cards; default all), batch after
    batch. `force` marks the selected passes stale first and pushes their classes again.
    One failing card never stops the batch; each failure counts one more failed run on its
    pass, and a pass failing FAILING_AFTER_RUNS runs in a row is logged at ERROR."""
    counts = SyncCounts()
    if not config.is_enabled():
        logger.info("Google Wallet is off (GOOGLE_WALLET_ISSUER_ID is not set); nothing to sync")
        return counts
    # Workers run no system checks: a broken key file fails the run, with the check's words.
    configuration = config.read_configuration()
    if not configuration.configured:
        raise ImproperlyConfigured(configuration.reason)
    pusher = _Pusher(WalletClient.from_settings(sleep=sleep), force_classes=force, counts_runs=True)
    cards = Card.all_objects.all()
    if merchants is not None:
        cards = cards.filter(program__merchant__in=merchants)
    if card_ids is not None:
        cards = cards.filter(pk__in=card_ids)
    if force:
        cards.exclude(wallet_pass_state=State.NONE).update(wallet_pass_state=State.STALE)
    stale = cards.filter(wallet_pass_state=State.STALE).order_by("pk")
    last_id = 0
    while batch := list(stale.filter(pk__gt=last_id).values_list("pk", flat=True)[:BATCH_SIZE]):
        for card_id in batch:
            error = pusher.push(card_id)
            if not error:
                counts.pushed += 1
                continue
            counts.failed += 1
            if len(counts.failed_card_ids) < MAX_REPORTED_IDS:
                counts.failed_card_ids.append(card_id)
        last_id = batch[-1]
    return counts
