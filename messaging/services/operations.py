"""Operators' tools: retrying failed emails, cancelling a customer's queued ones, sending a
template's test email."""

from django.db import transaction

from messaging.models import EmailTemplate, OutgoingEmail
from messaging.rendering import CompiledTemplate, sample_context
from messaging.services.outbox import kick_sender
from messaging.services.sending import build_message

Status = OutgoingEmail.Status


def retry_failed_emails(*, email_ids: list[int]) -> int:
    """Queue the given failed emails again, with a fresh count of attempts. Returns how many."""
    with transaction.atomic():
        retried = OutgoingEmail.objects.filter(pk__in=email_ids, status=Status.FAILED).update(
            status=Status.QUEUED, attempts=0, next_attempt_at=None, last_error=""
        )
        if retried:
            transaction.on_commit(kick_sender, robust=True)
    return retried


def cancel_queued_emails(*, customer_id: int, reason: str) -> int:
    """Cancel the customer's emails not sent yet (anonymisation). A row being sent right now
    is left to its sender, which checks the customer again before it sends."""
    return OutgoingEmail.objects.filter(status=Status.QUEUED, customer_id=customer_id).update(
        status=Status.CANCELLED, last_error=reason
    )


def send_test_email(*, template: EmailTemplate, to: str) -> None:
    """The template rendered with its code's sample data, sent now (not through the log)."""
    context = sample_context(template.code) or {}
    rendered = CompiledTemplate(template).render(context)
    message = build_message(
        rendered=rendered,
        to=to,
        sender_name=str(context.get("merchant_name", "")),
        unsubscribe=str(context.get("unsubscribe_url", "")),
    )
    message.send()


def forget_customer_emails(*, customer_id: int) -> int:
    """Anonymisation: cancel the customer's queued emails and blank the address and data of
    every email the log keeps for them (their status and dates stay, for the figures).
    Returns how many were cancelled."""
    cancelled = cancel_queued_emails(customer_id=customer_id, reason="customer anonymised")
    OutgoingEmail.objects.filter(customer_id=customer_id).update(to="", context={}, subject="")
    return cancelled
