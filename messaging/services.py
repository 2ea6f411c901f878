"""Asking for emails. Callers pass plain data (strings, numbers, dates, URLs) in `context`,
never model instances, so that an operator-edited template cannot reach into the database."""

import json
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from messaging.models import OutgoingEmail


@dataclass(frozen=True)
class EmailRequest:
    merchant_id: int
    customer_id: int | None
    to: str
    template: str
    context: dict = field(default_factory=dict)


_COPY_COLUMNS = ("merchant_id", "customer_id", "template", "to", "context", "status", "error")


def queue_emails(requests: list[EmailRequest]) -> int:
    """Record the requested emails in the outbox, in one statement, inside the caller's
    transaction. Returns how many were recorded (requests without an address are dropped)."""
    requests = [r for r in requests if r.to]
    if not requests:
        return 0
    if connection.vendor != "postgresql":
        OutgoingEmail.objects.bulk_create(
            OutgoingEmail(
                merchant_id=r.merchant_id,
                customer_id=r.customer_id,
                to=r.to,
                template=r.template,
                context=r.context,
            )
            for r in requests
        )
        return len(requests)
    # COPY: a batch job queues hundreds at once, and building model instances and quoting
    # their values cost three times what the database spends storing the rows.
    qn = connection.ops.quote_name
    columns = ", ".join(map(qn, (*_COPY_COLUMNS, "created_at")))
    now = timezone.now()
    with connection.cursor() as cursor:
        copy_sql = f"COPY {qn(OutgoingEmail._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for r in requests:
                copy.write_row(
                    (
                        r.merchant_id,
                        r.customer_id,
                        r.template,
                        r.to,
                        json.dumps(r.context),
                        OutgoingEmail.Status.QUEUED.value,
                        "",
                        now,
                    )
                )
    return len(requests)


def queue_email(request: EmailRequest) -> None:
    queue_emails([request])
