"""GDPR anonymisation: the person goes, their cards and ledger stay (unlinked)."""

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from loyalty.models import Card
from loyalty.services.idempotency import scrub_customer_responses
from merchants.access import require_operations
from merchants.errors import DomainError
from merchants.models import AuditEntry
from merchants.services import record_audit
from messaging.services.operations import forget_customer_emails


class AlreadyAnonymised(DomainError):
    code = "already_anonymised"
    default_detail = "This customer has already been anonymised."


def anonymise_customer(*, customer: Customer, user, reason: str = "") -> Customer:
    """Irreversibly scrub a customer's personal fields, in one transaction: their cards are
    kept with their ledger but unlinked from them, queued emails are cancelled and the email
    log forgets their address, stored terminal answers lose their name, and the audit trail
    records who did it. The ledger rows are not touched."""
    require_operations(user=user, merchant_id=customer.merchant_id)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.anonymized_at is not None:
            raise AlreadyAnonymised()
        cards = Card.all_objects.filter(customer=customer)
        card_numbers = list(cards.values_list("number", flat=True))
        cards.update(customer=None)
        customer.email = f"anonymised-{customer.pk}@anonymised.invalid"
        customer.first_name = ""
        customer.last_name = ""
        customer.phone = ""
        customer.birth_date = None
        customer.marketing_consent = False
        customer.last_birthday_email_on = None
        customer.anonymized_at = timezone.now()
        customer.save()
        cancelled = forget_customer_emails(customer_id=customer.pk)
        scrubbed = scrub_customer_responses(card_numbers=card_numbers)
        record_audit(
            actor=user,
            action=AuditEntry.Action.ANONYMISED,
            obj=customer,
            merchant_id=customer.merchant_id,
            reason=(reason or "").strip(),
            changes={
                "cards_unlinked": card_numbers,
                "emails_cancelled": cancelled,
                "stored_responses_scrubbed": scrubbed,
            },
        )
    return customer
