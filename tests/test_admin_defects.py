"""Defects of the admin found on main: each test failed before its fix."""

import pytest
from django.contrib import admin
from django.urls import reverse

from customers.models import Customer
from loyalty.models import Card, StaffPin
from loyalty.pins import pin_digest
from loyalty.services import ledger
from merchants.models import AuditEntry
from tests.factories import CustomerFactory, StaffPinFactory, UserFactory


@pytest.fixture
def operator_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_a_cards_programme_customer_store_and_activation_cannot_be_changed(
    operator_client, card, rival_merchant
):
    other_program = rival_merchant["program"]
    other_store = rival_merchant["store"]
    other_customer = CustomerFactory(merchant=rival_merchant["merchant"])
    url = reverse("admin:loyalty_card_change", args=[card.pk])
    form = admin.site._registry[Card].get_form(operator_client.get(url).wsgi_request, card)
    assert not set(form.base_fields) & {"program", "customer", "enrolled_store", "is_active"}

    operator_client.post(
        url,
        {
            "program": other_program.pk,
            "customer": other_customer.pk,
            "enrolled_store": other_store.pk,
            "is_active": "",
            "transactions-TOTAL_FORMS": "0",
            "transactions-INITIAL_FORMS": "0",
        },
    )

    card.refresh_from_db()
    assert card.program_id != other_program.pk
    assert card.customer_id != other_customer.pk
    assert card.enrolled_store_id != other_store.pk
    assert card.is_active is True


def test_adding_a_staff_pin_without_a_pin_is_refused(operator_client, store):
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_add"),
        {"store": store.pk, "staff_name": "Ann", "is_manager": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["pin"]
    assert not StaffPin.objects.exists()


def test_adding_a_staff_pin_asks_for_it_twice(operator_client, store):
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_add"),
        {"store": store.pk, "staff_name": "Ann", "pin": "4821", "pin_again": "4812"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["pin_again"] == ["The two PINs differ."]
    assert not StaffPin.objects.exists()


def test_an_added_staff_pin_is_stored_as_the_services_digest(operator_client, store):
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_add"),
        {
            "store": store.pk,
            "staff_name": " Ann ",
            "is_manager": "on",
            "pin": "4821",
            "pin_again": "4821",
        },
    )
    assert response.status_code == 302
    pin = StaffPin.objects.get()
    assert (pin.store, pin.staff_name, pin.is_manager, pin.is_active) == (store, "Ann", True, True)
    assert pin.pin_digest == pin_digest("4821")
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.object_id, audit.merchant_id) == (
        "pin_set",
        str(pin.pk),
        store.merchant_id,
    )


def test_a_pin_taken_at_the_store_is_refused_with_the_services_message(operator_client, store):
    StaffPinFactory(store=store, staff_name="Bea", pin="4821")
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_add"),
        {"store": store.pk, "staff_name": "Ann", "pin": "4821", "pin_again": "4821"},
    )
    assert response.status_code == 200
    assert "Another staff member at this store has that PIN" in response.content.decode()
    assert StaffPin.objects.count() == 1


def test_resetting_a_staff_pin_goes_through_the_service_and_unlocks_it(operator_client, store):
    import datetime

    from django.utils import timezone

    staff_pin = StaffPinFactory(
        store=store,
        pin="1111",
        failed_attempts=4,
        locked_until=timezone.now() + datetime.timedelta(minutes=5),
    )
    url = reverse("admin:loyalty_staffpin_change", args=[staff_pin.pk])
    form = admin.site._registry[StaffPin].get_form(operator_client.get(url).wsgi_request, staff_pin)
    assert {"pin", "pin_again"} <= set(form.base_fields)
    assert "store" not in form.base_fields

    response = operator_client.post(url, {"pin": "2222", "pin_again": "2222"})

    assert response.status_code == 302
    staff_pin.refresh_from_db()
    assert staff_pin.pin_digest == pin_digest("2222")
    assert (staff_pin.failed_attempts, staff_pin.locked_until) == (0, None)


def test_the_customer_admin_saves_the_email_normalised(operator_client, merchant):
    customer = CustomerFactory(merchant=merchant, email="ann@example.com")
    response = operator_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        {
            "merchant": merchant.pk,
            "email": "  Ann.Smith@EXAMPLE.Com ",
            "first_name": "Ann",
            "last_name": "Smith",
            "phone": "",
            "locale": "en",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.email == "Ann.Smith@example.com"


def test_the_customer_admin_refuses_an_email_another_customer_has(operator_client, merchant):
    CustomerFactory(merchant=merchant, email="taken@example.com")
    customer = CustomerFactory(merchant=merchant, email="ann@example.com")
    response = operator_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        {
            "merchant": merchant.pk,
            "email": "TAKEN@example.com",
            "first_name": "Ann",
            "locale": "en",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"]
    assert Customer.objects.get(pk=customer.pk).email == "ann@example.com"


def test_the_transactions_list_shows_only_pages_that_exist(operator_client, card, store):
    for _ in range(23):
        ledger.earn_points(card=card, store=store, points=1)
    changelist = reverse("admin:loyalty_transaction_changelist")
    model_admin = admin.site._registry[card.transactions.model]
    model_admin.list_per_page = 10
    try:
        response = operator_client.get(changelist)
        page = response.content.decode()
        assert response.context["cl"].paginator.num_pages == 3
        assert "23 transactions" in page
        assert "1000000000" not in page
        assert 'href="?p=3"' in page
        assert 'href="?p=4"' not in page
        assert operator_client.get(changelist, {"p": 5}).status_code == 302
    finally:
        del model_admin.list_per_page


def test_a_long_ledger_is_counted_up_to_a_limit_and_labelled_an_estimate(
    operator_client, card, store
):
    from loyalty.admin import LedgerPaginator

    for _ in range(6):
        ledger.earn_points(card=card, store=store, points=1)
    paginator = LedgerPaginator(card.transactions.order_by("-id"), 2)
    paginator.count_limit = 5
    assert (paginator.count, paginator.is_estimate, paginator.num_pages) == (5, True, 3)
    exact = LedgerPaginator(card.transactions.order_by("-id"), 2)
    assert (exact.count, exact.is_estimate) == (6, False)
