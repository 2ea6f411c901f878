"""Periodic jobs. Each is thin: it calls a service and records the run (start, end, outcome,
counts) for monitoring.

The jobs the beat schedule runs are `acks_late` with `reject_on_worker_lost`: a worker that dies
mid-run leaves the message to be redelivered, which is safe because the services can be re-run.
"""

import logging

from celery import shared_task
from django.utils import timezone

from loyalty.services import bulk_bonus, marketing_emails
from loyalty.services.expiry import expire_points as expire_points_service
from loyalty.services.idempotency import purge_idempotency_records as purge_idempotency_service
from loyalty.services.task_runs import run_recorded

logger = logging.getLogger(__name__)

EXPIRE_POINTS = "loyalty.expire_points"
PURGE_IDEMPOTENCY_RECORDS = "loyalty.purge_idempotency_records"
SEND_BIRTHDAY_EMAILS = "loyalty.send_birthday_emails"
SEND_REENGAGEMENT_EMAILS = "loyalty.send_reengagement_emails"


@shared_task(
    name=EXPIRE_POINTS,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
)
def expire_points() -> dict[str, int]:
    counts = run_recorded(
        task=EXPIRE_POINTS,
        work=lambda: expire_points_service(now=timezone.now()).as_dict(),
    )
    logger.info("Expired points: %s", counts)
    return counts


@shared_task(name=PURGE_IDEMPOTENCY_RECORDS, acks_late=True, reject_on_worker_lost=True)
def purge_idempotency_records() -> dict[str, int]:
    return run_recorded(
        task=PURGE_IDEMPOTENCY_RECORDS,
        work=lambda: {"deleted": purge_idempotency_service()},
    )


@shared_task(name=SEND_BIRTHDAY_EMAILS, acks_late=True, reject_on_worker_lost=True)
def send_birthday_emails() -> dict[str, int]:
    return run_recorded(
        task=SEND_BIRTHDAY_EMAILS,
        work=lambda: marketing_emails.send_birthday_emails(now=timezone.now()),
    )


@shared_task(name=SEND_REENGAGEMENT_EMAILS, acks_late=True, reject_on_worker_lost=True)
def send_reengagement_emails() -> dict[str, int]:
    return run_recorded(
        task=SEND_REENGAGEMENT_EMAILS,
        work=lambda: marketing_emails.send_reengagement_emails(now=timezone.now()),
    )


# Wallet sync arrives with its own issue. Its schedule row exists but is created disabled;
# the name is registered so that enabling the row early does nothing harmful.


@shared_task(name="loyalty.sync_wallet_passes", acks_late=True, reject_on_worker_lost=True)
def sync_wallet_passes() -> None:
    """Not built yet: Google Wallet sync arrives with its own issue. Does nothing."""
    logger.warning("loyalty.sync_wallet_passes is not built yet; nothing was done")
    run_recorded(task="loyalty.sync_wallet_passes", work=lambda: {})


@shared_task(name="loyalty.run_bulk_bonus_chunk", acks_late=True, reject_on_worker_lost=True)
def run_bulk_bonus_chunk(job_id: int) -> None:
    """One chunk of a bulk bonus, then the next chunk as a task of its own: no task runs
    long, and the job's progress is saved between chunks."""
    if bulk_bonus.run_bulk_bonus_chunk(job_id=job_id):
        run_bulk_bonus_chunk.delay(job_id)
