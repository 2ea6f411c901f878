"""Periodic jobs. Each is thin: it calls a service and records the run (start, end, outcome,
counts) for monitoring.

The jobs the beat schedule runs are `acks_late` with `reject_on_worker_lost`: a worker that dies
mid-run leaves the message to be redelivered, which is safe because the services can be re-run.
"""

import logging

from celery import shared_task
from django.utils import timezone

from loyalty.services import bulk_bonus, marketing_emails
from loyalty.services.analytics_summaries import refresh_all_analytics
from loyalty.services.expiry import expire_points as expire_points_service
from loyalty.services.idempotency import purge_idempotency_records as purge_idempotency_service
from loyalty.services.task_runs import run_recorded
from loyalty.wallet import services as wallet_services

logger = logging.getLogger(__name__)

EXPIRE_POINTS = "loyalty.expire_points"
PURGE_IDEMPOTENCY_RECORDS = "loyalty.purge_idempotency_records"
SEND_BIRTHDAY_EMAILS = "loyalty.send_birthday_emails"
SEND_REENGAGEMENT_EMAILS = "loyalty.send_reengagement_emails"
SYNC_WALLET_PASSES = "loyalty.sync_wallet_passes"
PUSH_WALLET_PASS = "loyalty.push_wallet_pass"
REFRESH_METRICS_FIGURES = "loyalty.refresh_metrics_figures"
REFRESH_ANALYTICS = "loyalty.refresh_analytics"


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


@shared_task(
    name=SYNC_WALLET_PASSES,
    acks_late=True,
    reject_on_worker_lost=True,
    # Below the 15 minutes between runs: a run never overlaps the next.
    soft_time_limit=12 * 60,
    time_limit=13 * 60,
)
def sync_wallet_passes() -> dict:
    return run_recorded(
        task=SYNC_WALLET_PASSES, work=lambda: wallet_services.sync_stale_passes().as_dict()
    )


@shared_task(
    name=REFRESH_ANALYTICS,
    acks_late=True,
    reject_on_worker_lost=True,
    # Below the hour between runs: a run never overlaps the next. 100,000 cards and 5
    # million ledger rows take about 4 minutes (README, "Analytics").
    soft_time_limit=50 * 60,
    time_limit=55 * 60,
)
def refresh_analytics() -> dict[str, int]:
    return run_recorded(
        task=REFRESH_ANALYTICS, work=lambda: refresh_all_analytics(as_of=timezone.now())
    )


@shared_task(name=PUSH_WALLET_PASS, soft_time_limit=2 * 60, time_limit=3 * 60)
def push_wallet_pass(card_id: int) -> bool:
    """Queued after each commit that changes a card with a pass."""
    return wallet_services.push_pass(card_id=card_id)


@shared_task(name="loyalty.run_bulk_bonus_chunk", acks_late=True, reject_on_worker_lost=True)
def run_bulk_bonus_chunk(job_id: int) -> None:
    """One chunk of a bulk bonus, then the next chunk as a task of its own: no task runs
    long, and the job's progress is saved between chunks."""
    if bulk_bonus.run_bulk_bonus_chunk(job_id=job_id):
        run_bulk_bonus_chunk.delay(job_id)


@shared_task(name=REFRESH_METRICS_FIGURES, soft_time_limit=10 * 60, time_limit=11 * 60)
def refresh_metrics_figures() -> None:
    """Asked by a scrape of /metrics whose business figures are stale."""
    # Imported here: the figures read these tasks' names.
    from loyalty.metrics.figures import store_figures

    store_figures()
