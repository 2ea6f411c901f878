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
    # COPY, its text format written by hand: a batch job queues hundreds at once, and building
    # model instances, or having psycopg adapt each value, cost more than the database spends
    # storing the rows.
    qn = connection.ops.quote_name
    columns = ", ".join(map(qn, (*_COPY_COLUMNS, "created_at")))
    tail = f"\t{OutgoingEmail.Status.QUEUED.value}\t\t{timezone.now().isoformat()}\n"
    text = "".join(
        f"{r.merchant_id}\t{_NULL if r.customer_id is None else r.customer_id}\t"
        f"{_copy_text(r.template)}\t{_copy_text(r.to)}\t{_copy_text(json.dumps(r.context))}{tail}"
        for r in requests
    )
    with connection.cursor() as cursor:
        copy_sql = f"COPY {qn(OutgoingEmail._meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            copy.write(text)
    return len(requests)


_NULL = "\\N"


def _copy_text(value: str) -> str:
    """A value in COPY's text format, where a backslash, tab, newline or carriage return is
    escaped and \\N is NULL. (Four replaces are several times faster than one translate.)"""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def queue_email(request: EmailRequest) -> None:
    queue_emails([request])
