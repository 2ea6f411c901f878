"""GDPR anonymisation: the person goes, their cards and ledger stay (unlinked)."""

import logging

from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from loyalty.models import Card
from loyalty.services.idempotency import scrub_customer_responses
from merchants.access import require_operations
from merchants.errors import DomainError
from merchants.log_events import log_event_on_commit
from merchants.models import AuditEntry, Merchant
from merchants.services import record_audit
from messaging.services.operations import forget_customer_emails

logger = logging.getLogger(__name__)


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
        card_ids, card_numbers = [], []
        for card_id, number in cards.order_by("pk").values_list("pk", "number"):
            card_ids.append(card_id)
            card_numbers.append(number)
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
        # INFO: an erasure is routine work asked for by the customer, not a fault to look
        # into; the audit trail says who did it and why.
        log_event_on_commit(
            logger,
            "customer_anonymised",
            merchant=Merchant.all_objects.values_list("slug", flat=True).get(
                pk=customer.merchant_id
            ),
            customer_id=customer.pk,
            card_ids=card_ids,
            emails_cancelled=cancelled,
            user_id=user.pk,
        )
    return customer
