"""Marketing consent: the signed one-click unsubscribe link that needs no login.

The token signs the customer's id (with SECRET_KEY, and its fallbacks while a key is rotated
out): anyone holding the link may withdraw that customer's consent, and nothing more. A
tampered or foreign token names nobody.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from customers.models import Customer

_SALT = "messaging.unsubscribe"


def unsubscribe_token(customer_id: int) -> str:
    return signing.Signer(salt=_SALT).sign(str(customer_id))


def unsubscribe_url(customer_id: int) -> str:
    path = reverse("messaging:unsubscribe", args=[unsubscribe_token(customer_id)])
    return f"{settings.SITE_URL}{path}"


def customer_from_unsubscribe_token(token: str) -> Customer | None:
    try:
        customer_id = int(signing.Signer(salt=_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return Customer.objects.filter(pk=customer_id, anonymized_at__isnull=True).first()


def withdraw_marketing_consent(*, customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(marketing_consent=False)
    customer.marketing_consent = False
