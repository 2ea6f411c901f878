from django.db import models

from customers.models import Customer
from merchants.models import Merchant


class OutgoingEmail(models.Model):
    """The outbox: one row per email requested, written in the business transaction that
    asked for it, so that a rolled-back operation sends nothing and a committed one is never
    lost. Sending works through the queued rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    # Without database constraints: a batch job queues hundreds of thousands of rows, and a
    # constraint check per row costs as much as storing it. Django still applies on_delete.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="emails",
        db_constraint=False,
    )
    template = models.CharField(max_length=64)
    to = models.EmailField(max_length=254)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        # Newest first by id, which follows creation, so the admin's list reads the primary
        # key index; batch jobs queue hundreds of thousands of rows, so every index counts.
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="outbox_status_created")]

    def __str__(self) -> str:
        return f"{self.template} to {self.to} ({self.status})"
