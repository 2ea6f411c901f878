"""Periodic jobs. Each is thin: it calls a service and records the run (start, end, outcome,
counts) for monitoring.

The jobs the beat schedule runs are `acks_late` with `reject_on_worker_lost`: a worker that dies
mid-run leaves the message to be redelivered, which is safe because the services can be re-run.
"""

import logging

from celery import shared_task
from django.utils import timezone

from loyalty.services.expiry import expire_points as expire_points_service
from loyalty.services.idempotency import purge_idempotency_records as purge_idempotency_service
from loyalty.services.task_runs import run_recorded

logger = logging.getLogger(__name__)

EXPIRE_POINTS = "loyalty.expire_points"
PURGE_IDEMPOTENCY_RECORDS = "loyalty.purge_idempotency_records"


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


# The jobs below arrive with their own issues. Their schedule rows exist but are created
# disabled; these names are registered so that enabling a row early does nothing harmful.


def _not_built_yet(task: str) -> None:
    logger.warning("%s is not built yet; nothing was done", task)
    run_recorded(task=task, work=lambda: {})


@shared_task(name="loyalty.sync_wallet_passes", acks_late=True, reject_on_worker_lost=True)
def sync_wallet_passes() -> None:
    """Not built yet: Google Wallet sync arrives with its own issue. Does nothing."""
    _not_built_yet("loyalty.sync_wallet_passes")


@shared_task(name="loyalty.send_birthday_emails", acks_late=True, reject_on_worker_lost=True)
def send_birthday_emails() -> None:
    """Not built yet: birthday emails arrive with their own issue. Does nothing."""
    _not_built_yet("loyalty.send_birthday_emails")


@shared_task(name="loyalty.send_reengagement_emails", acks_late=True, reject_on_worker_lost=True)
def send_reengagement_emails() -> None:
    """Not built yet: re-engagement emails arrive with their own issue. Does nothing."""
    _not_built_yet("loyalty.send_reengagement_emails")
