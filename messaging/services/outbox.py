"""Asking for emails. Callers pass plain data (strings, numbers, dates, URLs) in `context`,
never model instances, so that an operator-edited template cannot reach into the database.

The rows are written in the caller's transaction; once it commits, the sender is kicked
(`messaging.send_queued_emails`), and the every-minute schedule catches up on anything a
kick missed. A rolled-back transaction leaves no row and kicks nothing.
"""

import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from merchants.log_events import log_event
from merchants.models import Merchant, Store
from messaging import metrics
from messaging.models import OutgoingEmail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmailRequest:
    merchant_id: int
    customer_id: int | None
    to: str
    template: str
    context: dict = field(default_factory=dict)
    store_id: int | None = None
    # Empty: the customer's locale when the email is sent.
    locale: str = ""
    # Marketing email goes only to customers who consented, with an unsubscribe link.
    is_marketing: bool = False
    # The card the email is about, for the log (README, "Logs"); not stored.
    card_id: int | None = None


_COPY_COLUMNS = (
    "merchant_id",
    "store_id",
    "customer_id",
    "template",
    "to",
    "context",
    "locale",
    "is_marketing",
    "status",
    "created_at",
)


def queue_emails(requests: list[EmailRequest]) -> int:
    """Record the requested emails in the outbox, in one statement, inside the caller's
    transaction, and kick the sender after it commits. Returns how many were recorded
    (requests without an address are dropped)."""
    requests = [r for r in requests if r.to]
    if not requests:
        return 0
    if connection.vendor != "postgresql":
        OutgoingEmail.objects.bulk_create(
            OutgoingEmail(
                merchant_id=r.merchant_id,
                store_id=r.store_id,
                customer_id=r.customer_id,
                to=r.to,
                template=r.template,
                context=r.context,
                locale=r.locale,
                is_marketing=r.is_marketing,
            )
            for r in requests
        )
    else:
        _copy_into_outbox(requests)
    metrics.count_queued([r.template for r in requests])
    if settings.EMAIL_SEND_AFTER_COMMIT:
        transaction.on_commit(kick_sender, robust=True)
    if logger.isEnabledFor(logging.INFO):
        transaction.on_commit(lambda: _log_queued(requests), robust=True)
    return len(requests)


def _log_queued(requests: list[EmailRequest]) -> None:
    """One `email_queued` record per merchant and template (a batch job queues hundreds at
    once), with the store and card when the record is about one email. Runs after the
    commit, so the slugs' query is not made inside the caller's transaction."""
    groups: dict[tuple[int, str], list[EmailRequest]] = {}
    for request in requests:
        groups.setdefault((request.merchant_id, request.template), []).append(request)
    merchant_ids = {merchant_id for merchant_id, _ in groups}
    store_ids = {r.store_id for r in requests if r.store_id is not None}
    merchants = dict(Merchant.all_objects.filter(pk__in=merchant_ids).values_list("pk", "slug"))
    stores = dict(Store.all_objects.filter(pk__in=store_ids).values_list("pk", "code"))
    for (merchant_id, template), group in groups.items():
        one = group[0] if len(group) == 1 else None
        log_event(
            logger,
            "email_queued",
            merchant=merchants.get(merchant_id),
            store=stores.get(one.store_id) if one else None,
            card_id=one.card_id if one else None,
            template=template,
            emails=len(group),
        )


def _copy_into_outbox(requests: list[EmailRequest]) -> None:
    # COPY, its text format written by hand: a batch job queues hundreds at once, and building
    # model instances, or having psycopg adapt each value, cost more than the database spends
    # storing the rows.
    qn = connection.ops.quote_name
    columns = ", ".join(map(qn, _COPY_COLUMNS))
    tail = f"\t{OutgoingEmail.Status.QUEUED.value}\t{timezone.now().isoformat()}\n"
    text = "".join(
        f"{r.merchant_id}\t{_NULL if r.store_id is None else r.store_id}\t"
        f"{_NULL if r.customer_id is None else r.customer_id}\t"
        f"{_copy_text(r.template)}\t{_copy_text(r.to)}\t{_copy_text(json.dumps(r.context))}\t"
        f"{_copy_text(r.locale)}\t{'t' if r.is_marketing else 'f'}{tail}"
        for r in requests
    )
    with connection.cursor() as cursor:
        copy_sql = f"COPY {qn(OutgoingEmail._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            copy.write(text)


_NULL = "\\N"


def _copy_text(value: str) -> str:
    """A value in COPY's text format, where a backslash, tab, newline or carriage return is
    escaped and \\N is NULL. (Four replaces are several times faster than one translate.)"""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def queue_email(request: EmailRequest) -> None:
    queue_emails([request])


def kick_sender() -> None:
    """Ask a worker to send the due emails now (in-process when there is no broker)."""
    from messaging.tasks import send_queued_emails

    send_queued_emails.delay()
