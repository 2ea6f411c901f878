"""The operations API: /api/v1/merchant/ for a merchant's staff, /api/v1/admin/ for
operators acting for a merchant. Token or session authenticated."""

import json

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from customers.models import Customer
from loyalty.models import Card, StaffPin, Transaction, TransactionType
from loyalty.pins import pin_digest
from loyalty.services import ledger
from merchants.models import AuditEntry, StaffMembership
from tests.factories import CardFactory, StaffMembershipFactory, StaffPinFactory, UserFactory

Role = StaffMembership.Role


class TokenClient:
    def __init__(self, user, prefix):
        self.client = Client()
        self.auth = f"Token {Token.objects.create(user=user).key}"
        self.prefix = prefix

    def call(self, method, path, body=None, **params):
        query = "&".join(f"{key}={value}" for key, value in params.items())
        url = self.prefix + path + (f"?{query}" if query else "")
        kwargs = {"HTTP_AUTHORIZATION": self.auth}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(self.client, method)(url, **kwargs)


def member(merchant, role, store=None):
    user = UserFactory(is_staff=True)
    StaffMembershipFactory(user=user, merchant=merchant, role=role, store=store)
    return user


@pytest.fixture
def manager_api(merchant):
    return TokenClient(member(merchant, Role.MANAGER), "/api/v1/merchant/")


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_api(operator):
    return TokenClient(operator, "/api/v1/admin/")


def test_a_manager_searches_their_merchants_cards(manager_api, card, rival_merchant):
    response = manager_api.call("get", "cards/", q=card.customer.email.upper())
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["number"] == card.number
    assert body["results"][0]["customer_email"] == card.customer.email
    by_number = manager_api.call("get", "cards/", q=rival_merchant["card"].number).json()
    assert by_number["count"] == 0


def test_a_manager_deactivates_cards_and_hears_what_was_skipped(
    manager_api, program, card, rival_merchant
):
    inactive = CardFactory(program=program, is_active=False)
    numbers = [card.number, inactive.number, rival_merchant["card"].number, "12"]

    response = manager_api.call("post", "cards/deactivate/", {"numbers": numbers, "reason": "Lost"})

    assert response.status_code == 200
    assert response.json() == {
        "changed": [card.number],
        "skipped": {
            inactive.number: "already inactive",
            rival_merchant["card"].number: "not found",
            "12": "not a card number",
        },
    }
    assert not Card.objects.get(pk=card.pk).is_active
    assert Card.objects.get(pk=rival_merchant["card"].pk).is_active


def test_a_manager_grants_a_bonus_stamped_as_themselves(manager_api, card, store):
    response = manager_api.call(
        "post", "cards/bonus/", {"numbers": [card.number], "points": 20, "reason": "Promo"}
    )
    assert response.json() == {"changed": [card.number], "skipped": {}}
    entry = Transaction.objects.get(card=card)
    assert (entry.type, entry.points_delta, entry.reason, entry.acting_admin) == (
        TransactionType.POINTS_ADJUSTED,
        20,
        "Promo",
        None,
    )
    assert entry.acting_user.memberships.get().role == Role.MANAGER


def test_an_operator_restores_points_for_a_merchant(admin_api, operator, card, store):
    ledger.earn_points(card=card, store=store, points=5)
    response = admin_api.call(
        "post",
        f"cards/{card.number}/restore-points/",
        {"points": 40, "reason": "Wrong expiry"},
        merchant_id=card.program.merchant_id,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["card"]["points_balance"] == 45
    assert body["transaction"]["points_delta"] == 40
    entry = Transaction.objects.get(pk=body["transaction"]["id"])
    assert (entry.acting_admin, entry.acting_user, entry.reason) == (operator, None, "Wrong expiry")


def test_the_admin_api_needs_the_merchant_and_finds_cards_only_in_it(
    admin_api, card, rival_merchant
):
    missing = admin_api.call("get", "cards/")
    assert missing.status_code == 400
    assert missing.json()["fields"] == {"merchant_id": ["required"]}
    assert admin_api.call("get", "cards/", merchant_id=999999).status_code == 404
    foreign = admin_api.call(
        "post",
        f"cards/{card.number}/restore-points/",
        {"points": 1, "reason": "x"},
        merchant_id=rival_merchant["merchant"].pk,
    )
    assert foreign.status_code == 404
    assert not Transaction.objects.exists()


def test_each_api_is_for_its_kind_of_user(operator, merchant, card):
    as_operator = TokenClient(operator, "/api/v1/merchant/").call("get", "cards/")
    as_manager = TokenClient(member(merchant, Role.MANAGER), "/api/v1/admin/").call(
        "get", "cards/", merchant_id=merchant.pk
    )
    assert (as_operator.status_code, as_operator.json()["code"]) == (403, "not_allowed")
    assert (as_manager.status_code, as_manager.json()["code"]) == (403, "not_allowed")


def test_staff_may_search_but_not_operate(merchant, card):
    api = TokenClient(member(merchant, Role.STAFF), "/api/v1/merchant/")
    assert api.call("get", "cards/").status_code == 200
    response = api.call(
        "post", f"cards/{card.number}/restore-points/", {"points": 1, "reason": "x"}
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_allowed")
    bulk = api.call("post", "cards/bonus/", {"numbers": [card.number], "points": 1, "reason": "x"})
    assert bulk.json()["skipped"] == {card.number: "Only owners and managers may do this."}
    assert not Transaction.objects.exists()


def test_without_credentials_it_is_401(client, db):
    response = client.get("/api/v1/merchant/cards/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_session_call_needs_its_csrf_token(merchant, card):
    user = member(merchant, Role.MANAGER)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/api/v1/merchant/cards/").status_code == 200
    response = browser.post(
        "/api/v1/merchant/cards/deactivate/",
        data=json.dumps({"numbers": [card.number], "reason": "x"}),
        content_type="application/json",
    )
    assert response.status_code == 403
    assert Card.objects.get(pk=card.pk).is_active


def test_bulk_pin_assignment_through_the_api(manager_api, store):
    StaffPinFactory(store=store, staff_name="Bea", pin="5555")
    response = manager_api.call(
        "post",
        "stores/main/pins/",
        {
            "pins": [
                {"staff_name": "Ann", "pin": "4821", "is_manager": True},
                {"staff_name": "Eve", "pin": "5555"},
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] == ["Ann"]
    assert list(body["skipped"]) == ["Eve"]
    assert StaffPin.objects.get(staff_name="Ann").pin_digest == pin_digest("4821")
    assert (
        manager_api.call(
            "post", "stores/nowhere/pins/", {"pins": [{"staff_name": "A", "pin": "1234"}]}
        ).status_code
        == 404
    )


def test_deleting_a_customer_anonymises_them(admin_api, operator, card, store):
    ledger.earn_points(card=card, store=store, points=9)
    customer = card.customer
    response = admin_api.call(
        "delete",
        f"customers/{customer.pk}/",
        {"reason": "Erasure request"},
        merchant_id=customer.merchant_id,
    )
    assert response.status_code == 200
    assert response.json()["id"] == customer.pk
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.anonymized_at is not None and customer.first_name == ""
    assert Card.objects.get(pk=card.pk).customer_id is None
    assert Card.objects.get(pk=card.pk).points_balance == 9
    assert AuditEntry.objects.get(action="anonymised").reason == "Erasure request"
    again = admin_api.call("delete", f"customers/{customer.pk}/", merchant_id=customer.merchant_id)
    assert (again.status_code, again.json()["code"]) == (409, "already_anonymised")


def test_bad_input_is_a_400_with_fields(manager_api, card):
    response = manager_api.call("post", "cards/bonus/", {"numbers": [], "points": 0})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"numbers", "points", "reason"}


def test_a_background_bonus_through_the_api_and_its_progress(
    manager_api, program, store, rival_merchant, django_capture_on_commit_callbacks
):
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    numbers = [card.number for card in cards] + [rival_merchant["card"].number]

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_api.call(
            "post", "bonus-jobs/", {"numbers": numbers, "points": 4, "reason": "Spring"}
        )

    assert response.status_code == 202
    started = response.json()
    assert (started["status"], started["total"], started["skipped"]) == (
        "queued",
        3,
        {"1 number(s)": "not found"},
    )
    progress = manager_api.call("get", f"bonus-jobs/{started['id']}/").json()
    assert (progress["status"], progress["processed"], progress["changed"]) == ("done", 3, 3)
    assert all(Card.objects.get(pk=card.pk).points_balance == 4 for card in cards)
    assert Card.objects.get(pk=rival_merchant["card"].pk).points_balance == 0
    rival_api = TokenClient(member(rival_merchant["merchant"], Role.OWNER), "/api/v1/merchant/")
    assert rival_api.call("get", f"bonus-jobs/{started['id']}/").status_code == 404
    nothing = manager_api.call(
        "post",
        "bonus-jobs/",
        {"numbers": [rival_merchant["card"].number], "points": 4, "reason": "x"},
    )
    assert nothing.status_code == 404
