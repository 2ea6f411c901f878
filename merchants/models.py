import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from merchants.softdelete import SoftDeleteModel


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (e.g. Europe/Luxembourg).")


class Locale(models.TextChoices):
    EN = "en", "English"
    FR = "fr", "French"
    DE = "de", "German"
    LB = "lb", "Luxembourgish"


DEFAULT_BRAND_COLOR = "#1d4ed8"
# PNG, JPEG or WebP, told by their first bytes. No SVG: it can carry script.
LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
MAX_LOGO_BYTES = 200 * 1024


def logo_content_type(data: bytes) -> str | None:
    """The image type of a logo file, or None when it is not a PNG, JPEG or WebP image."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


class Merchant(SoftDeleteModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(
        max_length=64, default="Europe/Luxembourg", validators=[validate_timezone]
    )
    default_locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.EN)
    brand_color = models.CharField(
        max_length=7,
        default=DEFAULT_BRAND_COLOR,
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #1d4ed8.")],
        help_text="The customer pages' header and buttons. Text on it is black or white, "
        "whichever reads better.",
    )
    # Kept in the database, not in a media folder: every web process serves it, and backups
    # hold it, with no shared file storage to run. Small by rule (MAX_LOGO_BYTES).
    logo = models.BinaryField(blank=True, default=b"", editable=False)
    logo_type = models.CharField(max_length=20, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(SoftDeleteModel):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="stores")
    code = models.CharField(
        max_length=32,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "Lower-case letters, digits, '-'.")],
        help_text="Short code printed on receipts and used by terminals, e.g. 'main'.",
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SoftDeleteModel.Meta):
        ordering = ["merchant", "code"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "code"], name="store_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.merchant.slug}/{self.code}"


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        MANAGER = "manager", "Manager"
        STAFF = "staff", "Staff"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    store = models.ForeignKey(
        Store,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        help_text="Empty: the membership covers every store of the merchant.",
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One membership per user: it alone decides what the user reaches.
            models.UniqueConstraint(fields=["user"], name="one_membership_per_user"),
        ]

    def clean(self) -> None:
        if self.store_id and self.store.merchant_id != self.merchant_id:
            raise ValidationError({"store": "The store belongs to another merchant."})

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"


class AuditEntry(models.Model):
    """What an operator or a merchant's staff did in the admin or the API, to which row, for
    which merchant and why. Written by the services that act; never changed afterwards."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CHANGED = "changed", "Changed"
        TRASHED = "trashed", "Moved to the trash"
        RESTORED = "restored", "Restored from the trash"
        DELETED = "deleted", "Deleted permanently"
        POINTS_RESTORED = "points_restored", "Points restored"
        BONUS_GRANTED = "bonus_granted", "Bonus points granted"
        CARD_DEACTIVATED = "card_deactivated", "Card deactivated"
        CARD_REACTIVATED = "card_reactivated", "Card reactivated"
        PIN_SET = "pin_set", "Staff PIN set"
        ANONYMISED = "anonymised", "Customer anonymised"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The operator or merchant's staff who acted.",
    )
    # Kept when the merchant is deleted permanently: the entry says it happened.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    object_type = models.CharField(max_length=100, help_text="app_label.model of the row.")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=20, choices=Action.choices)
    reason = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="audit_merchant_newest"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.object_repr}"
