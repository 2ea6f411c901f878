"""GDPR anonymisation: the person is scrubbed, their cards and ledger stay, unlinked."""

import datetime
import json

import pytest
from django.urls import reverse

from customers.models import Customer
from loyalty.models import Card, IdempotencyRecord, Transaction
from loyalty.services import ledger
from loyalty.services.anonymisation import AlreadyAnonymised, anonymise_customer
from merchants.models import AuditEntry
from messaging.models import OutgoingEmail
from tests.factories import (
    CardFactory,
    OutgoingEmailFactory,
    TerminalKeyFactory,
    UserFactory,
)

LEDGER_FIELDS = [
    "pk",
    "card_id",
    "merchant_id",
    "type",
    "points_delta",
    "points_balance_after",
    "stamps_delta",
    "stamps_balance_after",
    "reason",
    "notes",
    "created_at",
]


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def person(merchant, program, store, other_store):
    """A customer with two cards, ledger history, emails and a stored terminal answer."""
    card = ledger.enroll_customer(
        program=program,
        store=store,
        email="Ann.Smith@example.com",
        first_name="Ann",
        last_name="Smith",
        phone="+352 621 000 000",
        birth_date=datetime.date(1990, 4, 1),
        marketing_consent=True,
    )
    customer = card.customer
    ledger.earn_points(card=card, store=store, points=30)
    ledger.redeem_points(card=card, store=store, points=10)
    second = CardFactory(program=program, customer=customer, enrolled_store=other_store)
    ledger.earn_points(card=second, store=other_store, points=5)
    queued = OutgoingEmailFactory(merchant=merchant, customer=customer, to=customer.email)
    sent = OutgoingEmailFactory(
        merchant=merchant,
        customer=customer,
        to=customer.email,
        status=OutgoingEmail.Status.SENT,
        context={"first_name": "Ann"},
        subject="Welcome, Ann",
    )
    terminal_key = TerminalKeyFactory(store=store)
    answer = {"card": {"number": card.number, "customer_first_name": "Ann"}, "transaction": {}}
    record = IdempotencyRecord.objects.create(
        terminal_key=terminal_key,
        key="k1",
        request_digest="d",
        response_status=201,
        response_body=json.dumps(answer),
        claimed_at="2026-01-01T00:00:00Z",
    )
    other = IdempotencyRecord.objects.create(
        terminal_key=terminal_key,
        key="k2",
        request_digest="d",
        response_status=201,
        response_body=json.dumps({"card": {"number": "000000000000", "customer_first_name": "Bo"}}),
        claimed_at="2026-01-01T00:00:00Z",
    )
    return {
        "customer": customer,
        "cards": [card, second],
        "queued": queued,
        "sent": sent,
        "record": record,
        "other_record": other,
    }


def _ledger_snapshot():
    return list(Transaction.objects.order_by("pk").values_list(*LEDGER_FIELDS))


def _assert_anonymised(person, operator, reason):
    customer = Customer.objects.get(pk=person["customer"].pk)
    assert customer.email == f"anonymised-{customer.pk}@anonymised.invalid"
    assert (customer.first_name, customer.last_name, customer.phone) == ("", "", "")
    assert customer.birth_date is None
    assert customer.marketing_consent is False
    assert customer.anonymized_at is not None
    for card in person["cards"]:
        assert Card.all_objects.get(pk=card.pk).customer_id is None
    queued = OutgoingEmail.objects.get(pk=person["queued"].pk)
    sent = OutgoingEmail.objects.get(pk=person["sent"].pk)
    assert (queued.status, queued.to) == (OutgoingEmail.Status.CANCELLED, "")
    assert (sent.status, sent.to, sent.context, sent.subject) == (
        OutgoingEmail.Status.SENT,
        "",
        {},
        "",
    )
    record = json.loads(IdempotencyRecord.objects.get(pk=person["record"].pk).response_body)
    assert record["card"] == {"number": person["cards"][0].number, "customer_first_name": ""}
    other = json.loads(IdempotencyRecord.objects.get(pk=person["other_record"].pk).response_body)
    assert other["card"]["customer_first_name"] == "Bo"
    audit = AuditEntry.objects.get(action="anonymised")
    assert (audit.actor, audit.object_id, audit.merchant_id, audit.reason) == (
        operator,
        str(customer.pk),
        customer.merchant_id,
        reason,
    )
    assert sorted(audit.changes["cards_unlinked"]) == sorted(c.number for c in person["cards"])


def test_anonymising_scrubs_the_person_and_leaves_the_ledger_as_it_was(person, operator):
    before = _ledger_snapshot()
    balances = {c.pk: Card.objects.get(pk=c.pk).points_balance for c in person["cards"]}

    anonymise_customer(customer=person["customer"], user=operator, reason="Erasure request")

    assert _ledger_snapshot() == before
    assert {c.pk: Card.objects.get(pk=c.pk).points_balance for c in person["cards"]} == balances
    _assert_anonymised(person, operator, "Erasure request")


def test_anonymising_twice_is_refused(person, operator):
    anonymise_customer(customer=person["customer"], user=operator)
    with pytest.raises(AlreadyAnonymised):
        anonymise_customer(customer=person["customer"], user=operator)
    assert AuditEntry.objects.filter(action="anonymised").count() == 1


def test_the_admin_action_asks_for_confirmation_then_anonymises(client, person, operator):
    client.force_login(operator)
    changelist = reverse("admin:customers_customer_changelist")
    data = {"action": "anonymise", "_selected_action": [person["customer"].pk]}
    page = client.post(changelist, data)
    assert page.status_code == 200
    assert "This cannot be undone" in page.content.decode()
    assert Customer.objects.get(pk=person["customer"].pk).anonymized_at is None

    response = client.post(changelist, {**data, "confirmed": "yes", "reason": "Asked by mail"})

    assert response.status_code == 302
    _assert_anonymised(person, operator, "Asked by mail")


def test_a_customer_can_enrol_again_after_anonymisation(person, operator, program, store):
    anonymise_customer(customer=person["customer"], user=operator)
    card = ledger.enroll_customer(
        program=program, store=store, email="ann.smith@example.com", first_name="Ann"
    )
    assert card.customer_id != person["customer"].pk


def test_the_audit_entry_says_what_anonymising_did(person, operator):
    from merchants import services

    customer = person["customer"]
    Customer.objects.filter(pk=customer.pk).update(last_birthday_email_on=datetime.date(2026, 4, 1))
    trashed = CardFactory(program=person["cards"][0].program, customer=customer)
    services.trash(obj=trashed)

    anonymise_customer(customer=customer, user=operator, reason=None)

    assert Customer.objects.get(pk=customer.pk).last_birthday_email_on is None
    assert Card.all_objects.get(pk=trashed.pk).customer_id is None
    audit = AuditEntry.objects.get(action="anonymised")
    assert (audit.object_type, audit.reason) == ("customers.customer", "")
    assert sorted(audit.changes) == [
        "cards_unlinked",
        "emails_cancelled",
        "stored_responses_scrubbed",
    ]
    assert sorted(audit.changes["cards_unlinked"]) == sorted(
        card.number for card in [*person["cards"], trashed]
    )
    # The welcome email of the enrolment and the fixture's queued one.
    assert (audit.changes["emails_cancelled"], audit.changes["stored_responses_scrubbed"]) == (2, 1)


def test_a_manager_of_another_merchant_may_not_anonymise(person, rival_merchant):
    from merchants.access import NotAllowed
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=manager, merchant=rival_merchant["merchant"], role=StaffMembership.Role.MANAGER
    )
    with pytest.raises(NotAllowed):
        anonymise_customer(customer=person["customer"], user=manager)
    customer = Customer.objects.get(pk=person["customer"].pk)
    assert (customer.anonymized_at, customer.first_name) == (None, "Ann")
    assert not AuditEntry.objects.exists()


def test_forgetting_a_customers_emails_leaves_other_customers_and_sent_statuses(person):
    from messaging.services.operations import forget_customer_emails

    customer = person["customer"]
    failed = OutgoingEmailFactory(
        merchant=customer.merchant,
        customer=customer,
        to=customer.email,
        status=OutgoingEmail.Status.FAILED,
        subject="Your card",
    )
    someone_else = OutgoingEmailFactory(
        merchant=customer.merchant, to="bo@example.com", subject="Hi Bo", context={"a": 1}
    )

    [welcome] = OutgoingEmail.objects.filter(customer=customer).exclude(
        pk__in=[person["queued"].pk, person["sent"].pk, failed.pk]
    )
    welcome.subject = "Welcome"
    welcome.save()

    assert forget_customer_emails(customer_id=customer.pk) == 2

    rows = OutgoingEmail.objects.filter(customer=customer).order_by("pk")
    assert [(e.pk, e.status, e.to, e.subject, e.context, e.last_error) for e in rows] == [
        (welcome.pk, "cancelled", "", "", {}, "customer anonymised"),
        (person["queued"].pk, "cancelled", "", "", {}, "customer anonymised"),
        (person["sent"].pk, "sent", "", "", {}, ""),
        (failed.pk, "failed", "", "", {}, ""),
    ]
    someone_else.refresh_from_db()
    assert (someone_else.status, someone_else.to, someone_else.subject, someone_else.context) == (
        "queued",
        "bo@example.com",
        "Hi Bo",
        {"a": 1},
    )


def test_a_manager_of_the_customers_merchant_anonymises_them(person, merchant):
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(user=manager, merchant=merchant, role=StaffMembership.Role.MANAGER)

    anonymise_customer(customer=person["customer"], user=manager)

    assert Customer.objects.get(pk=person["customer"].pk).anonymized_at is not None
    audit = AuditEntry.objects.get(action="anonymised")
    assert (audit.actor, audit.merchant_id, audit.reason) == (manager, merchant.pk, "")
