"""Asking for emails. Callers pass plain data (strings, numbers, dates, URLs) in `context`,
never model instances, so that an operator-edited template cannot reach into the database."""

from dataclasses import dataclass, field

from messaging.models import OutgoingEmail


@dataclass(frozen=True)
class EmailRequest:
    merchant_id: int
    customer_id: int | None
    to: str
    template: str
    context: dict = field(default_factory=dict)


def queue_emails(requests: list[EmailRequest]) -> list[OutgoingEmail]:
    """Record the requested emails in the outbox, in one statement, inside the caller's
    transaction."""
    return OutgoingEmail.objects.bulk_create(
        [
            OutgoingEmail(
                merchant_id=r.merchant_id,
                customer_id=r.customer_id,
                to=r.to,
                template=r.template,
                context=r.context,
            )
            for r in requests
            if r.to
        ]
    )


def queue_email(request: EmailRequest) -> None:
    queue_emails([request])
