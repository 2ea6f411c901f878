"""anymail's tracking signal, sent by its webhook views once the request's basic auth
(ANYMAIL WEBHOOK_SECRET) checked out, handed to the tracking service."""

from anymail.signals import tracking
from django.dispatch import receiver

from messaging.services.tracking import record_delivery_event


@receiver(tracking, dispatch_uid="messaging.record_delivery_event")
def on_tracking_event(sender, event, esp_name, **kwargs):
    record_delivery_event(
        esp_message_id=event.message_id or "",
        event_type=event.event_type,
        recipient=event.recipient or "",
        timestamp=event.timestamp,
        description=event.description or event.mta_response or "",
    )
