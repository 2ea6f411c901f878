"""A bonus for many cards (10,000 and more) as a background job: the request only records
the job and queues its first chunk; each chunk grants the bonus card by card through the
ledger service, saves the progress, and queues the next. No request waits for it."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from loyalty.errors import InvalidInput
from loyalty.models import BulkBonusJob, Card
from loyalty.services.card_operations import grant_bonus
from loyalty.services.ledger import MAX_POINTS_PER_OPERATION
from merchants.access import require_operations

CHUNK_SIZE = 500
# Above this many cards the admin and the API run a bonus as a job rather than in the request.
SYNCHRONOUS_LIMIT = 500


def start_bulk_bonus(*, merchant_id: int, card_ids: list[int], points: int, reason: str, user):
    """Record the job and queue its first chunk after commit. Returns the job."""
    from loyalty import tasks  # tasks import the services: imported late, as a leaf

    require_operations(user=user, merchant_id=merchant_id)
    if isinstance(points, bool) or not isinstance(points, int):
        raise InvalidInput("Bonus points must be a whole number.", fields={"points": ["invalid"]})
    if not 1 <= points <= MAX_POINTS_PER_OPERATION:
        raise InvalidInput(
            f"Bonus points must be 1 to {MAX_POINTS_PER_OPERATION}.",
            fields={"points": ["invalid"]},
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reason is required.", fields={"reason": ["required"]})
    if not card_ids:
        raise InvalidInput("No cards were selected.", fields={"cards": ["required"]})
    with transaction.atomic():
        job = BulkBonusJob.objects.create(
            merchant_id=merchant_id,
            requested_by=user,
            points=points,
            reason=reason,
            card_ids=sorted(card_ids),
            total=len(card_ids),
        )
        transaction.on_commit(lambda: tasks.run_bulk_bonus_chunk.delay(job.pk))
    return job


def run_bulk_bonus_chunk(*, job_id: int) -> bool:
    """Grant the next chunk's bonuses and record the progress. Returns True while chunks are
    left. The progress is saved after each chunk: a chunk that dies midway is redone from
    its start, and cards it already did are skipped by their own ledger, so a restarted
    chunk grants nothing twice."""
    job = BulkBonusJob.objects.select_related("requested_by").get(pk=job_id)
    if job.status == BulkBonusJob.Status.DONE:
        return False
    chunk_ids = job.card_ids[job.processed : job.processed + CHUNK_SIZE]
    cards = list(
        Card.all_objects.select_related("program")
        .filter(pk__in=chunk_ids, program__merchant_id=job.merchant_id)
        .exclude(
            # Done by an earlier, interrupted run of this chunk.
            transactions__reason=_job_reason(job),
        )
        .order_by("pk")
    )
    outcome = grant_bonus(
        cards=cards, points=job.points, reason=_job_reason(job), user=job.requested_by
    )
    found = {card.pk for card in cards}
    missing = len([pk for pk in chunk_ids if pk not in found])
    processed = job.processed + len(chunk_ids)
    done = processed >= job.total
    skipped = {**job.skipped, **outcome.skipped}
    if missing:
        skipped[f"{missing} card(s)"] = "not found in this merchant, or already done"
    BulkBonusJob.objects.filter(pk=job.pk).update(
        processed=processed,
        changed=F("changed") + len(outcome.changed),
        skipped=skipped,
        status=BulkBonusJob.Status.DONE if done else BulkBonusJob.Status.RUNNING,
        finished_at=timezone.now() if done else None,
    )
    return not done


def _job_reason(job: BulkBonusJob) -> str:
    # The job's id in the ledger row's reason ties each row to its job (and makes a redone
    # chunk recognise the cards it already did).
    return f"{job.reason} (bulk bonus #{job.pk})"
