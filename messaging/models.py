from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import Customer
from merchants.models import Locale, Merchant, Store


class EmailTemplate(models.Model):
    """The words of one email (`code`) in one locale: a platform default, or a merchant's or a
    store's override. Written in the Django template language, rendered from plain data."""

    code = models.CharField(max_length=64)
    locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.EN)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="email_templates",
        help_text="Empty: the platform default. Set: this merchant's override.",
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="email_templates",
        help_text="Set (with its merchant): this store's override.",
    )
    subject = models.CharField(max_length=255)
    text_body = models.TextField(help_text="The plain-text part.")
    html_body = models.TextField(help_text="The HTML part; variables are escaped.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code", "locale", "merchant", "store"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "locale"],
                condition=Q(merchant__isnull=True, store__isnull=True),
                name="email_template_one_default",
            ),
            models.UniqueConstraint(
                fields=["code", "locale", "merchant"],
                condition=Q(merchant__isnull=False, store__isnull=True),
                name="email_template_one_per_merchant",
            ),
            models.UniqueConstraint(
                fields=["code", "locale", "store"],
                condition=Q(store__isnull=False),
                name="email_template_one_per_store",
            ),
            models.CheckConstraint(
                condition=Q(store__isnull=True) | Q(merchant__isnull=False),
                name="email_template_store_has_merchant",
            ),
        ]

    def __str__(self) -> str:
        scope = self.store or self.merchant or "default"
        return f"{self.code} ({self.locale}, {scope})"

    def clean(self) -> None:
        # Refused when saved, never at send time: every part must render against the
        # sample context of its code.
        from messaging.rendering import TemplateRenderError, check_renders

        if self.store_id is not None and self.store.merchant_id != self.merchant_id:
            raise ValidationError({"store": "The store belongs to another merchant."})
        try:
            check_renders(self)
        except TemplateRenderError as exc:
            raise ValidationError({exc.part: exc.message}) from None


class OutgoingEmail(models.Model):
    """The outbox and the email log: one row per email requested, written in the business
    transaction that asked for it, so that a rolled-back operation sends nothing and a
    committed one is never lost. The sender works through the due rows; ESP webhooks move
    the status of sent rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        DELIVERED = "delivered", "Delivered"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        OPENED = "opened", "Opened"
        CLICKED = "clicked", "Clicked"

    # Without database constraints: a batch job queues hundreds of thousands of rows, and a
    # constraint check per row costs as much as storing it. Django still applies on_delete.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    store = models.ForeignKey(
        Store,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="The store whose template override applies, if any.",
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
    # Database defaults, so that the bulk COPY path names only the columns it knows.
    is_marketing = models.BooleanField(
        default=False, db_default=False, help_text="Needs the customer's marketing consent."
    )
    locale = models.CharField(
        max_length=2,
        blank=True,
        default="",
        db_default="",
        help_text="Empty until sent: the customer's locale then.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty: due now. A retry waits until then."
    )
    lease_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While sending: the row belongs to its sender until then.",
    )
    subject = models.CharField(max_length=255, blank=True, default="", db_default="")
    esp_message_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    last_error = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(
        null=True, blank=True, help_text="The ESP's latest delivery event."
    )

    class Meta:
        # Newest first by id, which follows creation, so the admin's list reads the primary
        # key index; batch jobs queue hundreds of thousands of rows, so every index counts.
        ordering = ["-id"]
        indexes = [
            # The sender's claim walks the rows not sent yet by id; once sent, a row leaves
            # this index, so it stays as small as the queue however long the log grows.
            models.Index(
                fields=["id"],
                condition=Q(status__in=["queued", "sending"]),
                name="outbox_pending",
            ),
            # Webhooks find the sent row by its ESP id; rows not sent have none to index.
            models.Index(
                fields=["esp_message_id"],
                condition=~Q(esp_message_id=""),
                name="outbox_esp_message_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} to {self.to} ({self.status})"


class SuppressedAddress(models.Model):
    """An address that hard-bounced or complained: it gets no more marketing email."""

    address = models.EmailField(max_length=254, unique=True, help_text="Lower-case.")
    reason = models.CharField(max_length=20)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "suppressed addresses"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"
