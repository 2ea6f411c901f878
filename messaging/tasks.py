"""The sender task: thin, it calls the service. Kicked after each commit that queues email,
and run every minute by the beat schedule to catch up (retries, expired leases, lost kicks).

Its hard time limit is below the sending lease (messaging.services.sending.LEASE), so a
sender still alive always holds its rows' leases."""

from celery import shared_task

from messaging.services.sending import send_queued_emails as send_queued_emails_service

SEND_QUEUED_EMAILS = "messaging.send_queued_emails"


@shared_task(name=SEND_QUEUED_EMAILS, soft_time_limit=3 * 60, time_limit=4 * 60)
def send_queued_emails() -> dict[str, int]:
    return send_queued_emails_service().as_dict()
