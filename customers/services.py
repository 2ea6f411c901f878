import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from customers.models import Customer, validate_birth_date
from merchants.errors import InvalidInput
from merchants.models import Locale, Merchant


def normalize_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("Enter a valid email address.", fields={"email": ["invalid"]}) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def get_or_create_customer(
    *,
    merchant: Merchant,
    email: str,
    first_name: str,
    last_name: str = "",
    phone: str = "",
    birth_date: datetime.date | None = None,
    locale: str | None = None,
    marketing_consent: bool = False,
) -> Customer:
    """The merchant's customer with this email (case-insensitive), locked for the caller's
    transaction; created when new. Details of an existing customer are left as they are."""
    email = normalize_email(email)
    if birth_date is not None:
        try:
            validate_birth_date(birth_date)
        except ValidationError as exc:
            raise InvalidInput(exc.messages[0], fields={"birth_date": exc.messages}) from None
    locale = locale or merchant.default_locale
    if locale not in Locale.values:
        raise InvalidInput(
            f"Locale must be one of {', '.join(Locale.values)}.", fields={"locale": ["invalid"]}
        )
    if not (first_name or "").strip():
        raise InvalidInput("A first name is required.", fields={"first_name": ["required"]})

    existing = (
        Customer.objects.select_for_update()
        .filter(merchant=merchant, email__iexact=email, anonymized_at__isnull=True)
        .first()
    )
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            customer = Customer.objects.create(
                merchant=merchant,
                email=email,
                first_name=first_name.strip(),
                last_name=(last_name or "").strip(),
                phone=(phone or "").strip(),
                birth_date=birth_date,
                locale=locale,
                marketing_consent=marketing_consent,
            )
    except IntegrityError:
        # A concurrent enrolment created the same person first: use that row.
        pass
    else:
        return Customer.objects.select_for_update().get(pk=customer.pk)
    return Customer.objects.select_for_update().get(merchant=merchant, email__iexact=email)


def update_customer(
    *,
    customer: Customer,
    email: str,
    first_name: str,
    last_name: str = "",
    phone: str = "",
    birth_date: datetime.date | None = None,
    locale: str,
    marketing_consent: bool,
) -> Customer:
    """Change a customer's details, with the email normalised as enrolment stores it."""
    customer.email = normalize_email(email)
    customer.first_name = (first_name or "").strip()
    customer.last_name = (last_name or "").strip()
    customer.phone = (phone or "").strip()
    customer.birth_date = birth_date
    customer.locale = locale
    customer.marketing_consent = marketing_consent
    try:
        customer.full_clean()
    except ValidationError as exc:
        raise InvalidInput(
            "; ".join(exc.messages), fields={name: ["invalid"] for name in exc.message_dict}
        ) from None
    customer.save()
    return customer
