import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from merchants.models import Locale, Merchant

MAX_AGE_YEARS = 120


def validate_birth_date(value: datetime.date) -> None:
    """A real past date for someone aged 0 to 120."""
    today = timezone.localdate()
    if value > today:
        raise ValidationError("The birth date is in the future.", code="future")
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS - 1)
    except ValueError:  # 29 February
        oldest = today.replace(year=today.year - MAX_AGE_YEARS - 1, day=28)
    if value <= oldest:
        raise ValidationError(
            f"The birth date is more than {MAX_AGE_YEARS} years ago.", code="too_old"
        )


class Customer(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="customers")
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    birth_date = models.DateField(null=True, blank=True, validators=[validate_birth_date])
    locale = models.CharField(max_length=2, choices=Locale.choices, default=Locale.EN)
    marketing_consent = models.BooleanField(default=False)
    anonymized_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The customer's local date of the last birthday email: at most one a year.
    last_birthday_email_on = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["merchant", "email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), "merchant", name="customer_email_unique_per_merchant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email
