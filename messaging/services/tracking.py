"""Delivery events from the ESP (anymail's tracking webhooks) move the email log's status.

Events may arrive late or out of order (an open before its delivery), so a status only moves
forward: sent, delivered, opened, clicked; a bounce or a complaint outranks them all. A hard
bounce or a complaint also suppresses the address: it gets no more marketing email.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import metrics
from messaging.models import OutgoingEmail, SuppressedAddress

logger = logging.getLogger(__name__)

Status = OutgoingEmail.Status

# anymail's normalised event types that the log records, and each status's rank.
EVENT_STATUSES = {
    "delivered": Status.DELIVERED,
    "opened": Status.OPENED,
    "clicked": Status.CLICKED,
    "bounced": Status.BOUNCED,
    "complained": Status.COMPLAINED,
}
_RANK = {
    Status.SENT: 0,
    Status.DELIVERED: 1,
    Status.OPENED: 2,
    Status.CLICKED: 3,
    Status.BOUNCED: 4,
    Status.COMPLAINED: 5,
}
SUPPRESSING_STATUSES = {Status.BOUNCED, Status.COMPLAINED}


def record_delivery_event(
    *,
    esp_message_id: str,
    event_type: str,
    recipient: str = "",
    timestamp: datetime | None = None,
    description: str = "",
) -> bool:
    """Apply one ESP event to the email it is about. Returns whether the status moved."""
    status = EVENT_STATUSES.get(event_type)
    if status is None or not esp_message_id:
        return False
    moved = False
    with transaction.atomic():
        email = (
            OutgoingEmail.objects.select_for_update().filter(esp_message_id=esp_message_id).first()
        )
        if email is None:
            logger.info("Delivery event %s for an unknown message", event_type)
            return False
        if _RANK.get(email.status, -1) < _RANK[status]:
            email.status = status
            email.last_event_at = timestamp or timezone.now()
            fields = ["status", "last_event_at"]
            if status in SUPPRESSING_STATUSES and description:
                email.last_error = description
                fields.append("last_error")
            email.save(update_fields=fields)
            moved = True
        if status in SUPPRESSING_STATUSES:
            _suppress(recipient or email.to, reason=status, detail=description)
    # Every event about a known email counts, moved or not: an open reported before its
    # delivery leaves the status at opened, and the delivery still happened.
    metrics.count_email(email.template, status)
    return moved


def _suppress(address: str, *, reason: str, detail: str) -> None:
    try:
        with transaction.atomic():
            SuppressedAddress.objects.get_or_create(
                address=address.lower(), defaults={"reason": reason, "detail": detail}
            )
    except IntegrityError:
        pass  # suppressed at the same moment by another event
