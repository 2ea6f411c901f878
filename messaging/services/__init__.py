"""Messaging's services: queueing email (`outbox`), sending it (`sending`), delivery events
(`tracking`), marketing consent (`consent`) and operators' tools (`operations`)."""

from messaging.services.outbox import EmailRequest, queue_email, queue_emails

__all__ = ["EmailRequest", "queue_email", "queue_emails"]
