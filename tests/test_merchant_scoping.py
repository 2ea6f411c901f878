"""A merchant's staff reach only their merchant's rows: every registered admin (list, change
view, actions, filters, autocompletes) and every operations API route is walked with another
merchant's identifiers, and that merchant's rows must stay unseen and unchanged. And every
admin page renders for a superuser and for a merchant's manager."""

import json

import pytest
from django.contrib import admin
from django.core import serializers as django_serializers
from django.test import Client
from django.urls import NoReverseMatch, reverse
from rest_framework.authtoken.models import Token

from loyalty.models import BulkBonusJob, Card, StaffPin, TerminalKey, Transaction
from loyalty.operations_api.schema import OPERATIONS
from loyalty.operations_api.urls import admin_urlpatterns, merchant_urlpatterns
from loyalty.services import card_operations, ledger
from merchants.models import AuditEntry, StaffMembership
from merchants.services import trash
from tests.factories import (
    CardFactory,
    CustomerFactory,
    MerchantFactory,
    ProgramFactory,
    StaffMembershipFactory,
    StaffPinFactory,
    StoreFactory,
    TerminalKeyFactory,
    UserFactory,
)

Role = StaffMembership.Role


def make_world(name: str, slug: str, operator):
    merchant = MerchantFactory(name=name, slug=slug)
    store = StoreFactory(merchant=merchant, code=f"{slug}-main")
    trashed_store = StoreFactory(merchant=merchant, code=f"{slug}-old")
    program = ProgramFactory(merchant=merchant, name=f"{name} Rewards")
    customer = CustomerFactory(merchant=merchant, email=f"client@{slug}.example")
    card = CardFactory(program=program, customer=customer, enrolled_store=store)
    ledger.earn_points(card=card, store=store, points=10)
    card_operations.restore_points(card=card, points=1, reason=f"{slug} fix", user=operator)
    StaffPinFactory(store=store, staff_name=f"{slug} clerk")
    TerminalKeyFactory(store=store, name=f"{slug} till")
    trash(obj=trashed_store, actor=operator)
    BulkBonusJob.objects.create(
        merchant=merchant,
        requested_by=operator,
        points=1,
        reason=f"{slug} job",
        card_ids=[card.pk],
        total=1,
    )
    owner = UserFactory(is_staff=True, username=f"{slug}-owner")
    StaffMembershipFactory(user=owner, merchant=merchant, role=Role.OWNER)
    return {
        "merchant": merchant,
        "store": store,
        "program": program,
        "customer": customer,
        "card": card,
        # Strings only this merchant's rows show.
        "markers": [slug, name, card.number, customer.email],
    }


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True, username="operator")


@pytest.fixture
def worlds(operator):
    return make_world("Alpha Foods", "alpha", operator), make_world("Beta Books", "beta", operator)


@pytest.fixture
def manager(worlds):
    user = UserFactory(is_staff=True, username="alpha-manager")
    StaffMembershipFactory(user=user, merchant=worlds[0]["merchant"], role=Role.MANAGER)
    return user


def rows_of(merchant) -> str:
    """Every row of the merchant's, serialised: to prove nothing of it changed."""
    querysets = [
        Card.all_objects.filter(program__merchant=merchant),
        Transaction.objects.filter(merchant=merchant),
        StaffPin.objects.filter(store__merchant=merchant),
        TerminalKey.objects.filter(store__merchant=merchant),
        BulkBonusJob.objects.filter(merchant=merchant),
        AuditEntry.objects.filter(merchant=merchant),
        merchant.customers.all(),
        merchant.stores.model.all_objects.filter(merchant=merchant),
        merchant.programs.model.all_objects.filter(merchant=merchant),
        type(merchant).all_objects.filter(pk=merchant.pk),
    ]
    return "".join(
        django_serializers.serialize("json", queryset.order_by("pk")) for queryset in querysets
    )


def admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def foreign_objects(model, model_admin, world):
    """The other merchant's rows of a merchant-scoped admin's model (none for the admins
    only operators reach: the manager's 403 on their list is checked instead)."""
    path = getattr(model_admin, "merchant_path", None)
    if path is None:
        return []
    manager = getattr(model, "all_objects", model._default_manager)
    return list(manager.filter(**{path: world["merchant"].pk}))


def test_a_merchants_manager_reaches_nothing_of_another_merchant_in_the_admin(
    client, worlds, manager
):
    mine, theirs = worlds
    before = rows_of(theirs["merchant"])
    client.force_login(manager)
    seen_models = probed = 0
    for model, model_admin in admin.site._registry.items():
        try:
            changelist = admin_url(model, "changelist")
        except NoReverseMatch:
            continue
        if hasattr(model, "all_objects"):
            changelist += "?trashed=all"
        response = client.get(changelist)
        assert response.status_code in (200, 403), changelist
        if response.status_code == 200:
            seen_models += 1
            page = response.content.decode()
            for marker in theirs["markers"]:
                assert marker not in page, (changelist, marker)
            # Every action the manager is offered, run on the other merchant's rows.
            action_form = response.context["action_form"]
            for action in action_form.fields["action"].choices if action_form else []:
                name = action[0]
                if not name:
                    continue
                ids = [obj.pk for obj in foreign_objects(model, model_admin, theirs)]
                client.post(
                    changelist,
                    {
                        "action": name,
                        "_selected_action": ids or [0],
                        "confirmed": "yes",
                        "reason": "probe",
                        "points": 5,
                    },
                )
        for obj in foreign_objects(model, model_admin, theirs):
            probed += 1
            for view in ("change", "history", "delete"):
                try:
                    url = admin_url(model, view, obj.pk)
                except NoReverseMatch:
                    continue
                answer = client.get(url)
                assert answer.status_code in (302, 403, 404), url
                client.post(url, {"reason": "probe", "points": 5})
        # Autocompletes of this admin's fields list only the manager's rows.
        for field_name in model_admin.autocomplete_fields:
            answer = client.get(
                "/admin/autocomplete/",
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field_name,
                    "term": "",
                },
            )
            if answer.status_code == 200:
                text = json.dumps(answer.json())
                for marker in theirs["markers"]:
                    assert marker not in text, (model, field_name)
    assert seen_models >= 10
    assert probed >= 12
    for path in (
        f"/admin/loyalty/card/{theirs['card'].pk}/restore-points/",
        "/admin/loyalty/staffpin/assign/",
    ):
        client.post(
            path,
            {
                "points": 5,
                "reason": "probe",
                "store": theirs["store"].pk,
                "pins": "staff_name,pin\nprobe,9876\n",
            },
        )
    assert rows_of(theirs["merchant"]) == before


def test_the_autocomplete_of_stores_lists_only_the_managers(client, worlds, manager):
    client.force_login(manager)
    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "loyalty", "model_name": "staffpin", "field_name": "store", "term": ""},
    )
    assert answer.status_code == 200
    assert [item["text"] for item in answer.json()["results"]] == ["alpha/alpha-main"]


def test_related_filters_offer_only_the_managers_values(client, worlds, manager, operator):
    changelist = reverse("admin:loyalty_card_changelist")
    client.force_login(operator)
    operators = client.get(changelist).content.decode()
    assert "Alpha Foods Rewards" in operators and "Beta Books Rewards" in operators
    client.force_login(manager)
    page = client.get(changelist)
    assert ("program", admin.RelatedOnlyFieldListFilter) in page.context["cl"].list_filter
    assert "Beta Books Rewards" not in page.content.decode()


def test_the_operations_api_reaches_nothing_of_another_merchant(worlds, manager):
    mine, theirs = worlds
    before = rows_of(theirs["merchant"])
    api = Client()
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=manager).key}"}
    values = {
        "number": theirs["card"].number,
        "code": theirs["store"].code,
        "customer_id": theirs["customer"].pk,
        "job_id": BulkBonusJob.objects.get(merchant=theirs["merchant"]).pk,
    }
    body = {
        "numbers": [theirs["card"].number],
        "points": 5,
        "reason": "probe",
        "pins": [{"staff_name": "probe", "pin": "9876"}],
    }
    walked = 0
    for prefix, patterns in (
        ("/api/v1/merchant/", merchant_urlpatterns),
        ("/api/v1/admin/", admin_urlpatterns),
    ):
        for pattern in patterns:
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is None:
                continue
            method = OPERATIONS[view_class.__mro__[1]][0]
            route = str(pattern.pattern)
            for name, value in values.items():
                route = route.replace(f"<str:{name}>", str(value)).replace(
                    f"<int:{name}>", str(value)
                )
            url = prefix + route
            assert "<" not in url, url
            query = f"?merchant_id={theirs['merchant'].pk}"
            if method == "get":
                response = api.get(url + query, {"q": theirs["card"].number}, **auth)
            else:
                response = getattr(api, method)(
                    url + query, data=json.dumps(body), content_type="application/json", **auth
                )
            walked += 1
            text = response.content.decode()
            assert response.status_code in (200, 403, 404), (url, response.status_code, text)
            if response.status_code == 200:
                answer = response.json()
                assert answer.get("changed", []) == [] and answer.get("count", 0) == 0, url
            for marker in [theirs["customer"].email]:
                assert marker not in text, url
    assert walked == 2 * len(OPERATIONS)
    assert rows_of(theirs["merchant"]) == before


def test_store_staff_see_only_their_store(client, worlds):
    mine, _ = worlds
    other_store = StoreFactory(merchant=mine["merchant"], code="alpha-north")
    elsewhere = CardFactory(program=mine["program"], enrolled_store=other_store)
    clerk = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=clerk, merchant=mine["merchant"], store=mine["store"], role=Role.STAFF
    )
    client.force_login(clerk)
    cards = client.get(reverse("admin:loyalty_card_changelist")).context["cl"].result_list
    assert list(cards) == [mine["card"]]
    assert client.get(admin_url(Card, "change", elsewhere.pk)).status_code == 302
    listing = client.get(reverse("admin:loyalty_card_changelist")).content.decode()
    assert "deactivate" not in listing and "grant_bonus" not in listing
    assert client.get(f"/admin/loyalty/card/{mine['card'].pk}/restore-points/").status_code == 403


def _pages(world, *, superuser: bool):
    card, customer = world["card"], world["customer"]
    pages = []
    for model in admin.site._registry:
        try:
            pages.append((admin_url(model, "changelist"), model))
        except NoReverseMatch:
            continue
    objects = {
        Card: card,
        type(world["merchant"]): world["merchant"],
        type(world["store"]): world["store"],
        type(world["program"]): world["program"],
        type(customer): customer,
        Transaction: Transaction.objects.filter(card=card).first(),
        StaffPin: StaffPin.objects.filter(store=world["store"]).first(),
        TerminalKey: TerminalKey.objects.filter(store=world["store"]).first(),
        BulkBonusJob: BulkBonusJob.objects.filter(merchant=world["merchant"]).first(),
        AuditEntry: AuditEntry.objects.filter(merchant=world["merchant"]).first(),
        StaffMembership: StaffMembership.objects.filter(merchant=world["merchant"]).first(),
    }
    for model, obj in objects.items():
        pages.append((admin_url(model, "change", obj.pk), model))
    for model in (StaffPin, type(world["store"]), type(world["program"])):
        pages.append((admin_url(model, "add"), model))
    pages += [
        (f"/admin/loyalty/card/{card.pk}/restore-points/", Card),
        ("/admin/loyalty/staffpin/assign/", StaffPin),
        (admin_url(type(world["store"]), "delete", world["store"].pk), None),
    ]
    if superuser:
        pages.append((admin_url(type(world["merchant"]), "add"), None))
    return pages


@pytest.mark.parametrize("who", ["superuser", "manager"])
def test_every_admin_page_renders(client, worlds, operator, manager, who):
    mine, _ = worlds
    user = operator if who == "superuser" else manager
    client.force_login(user)
    for url, model in _pages(mine, superuser=who == "superuser"):
        response = client.get(url)
        if who == "manager" and model is not None and model not in MANAGER_MODELS:
            assert response.status_code in (302, 403), url
            continue
        assert response.status_code == 200, url
    changelist = reverse("admin:loyalty_card_changelist")
    for action in ("deactivate", "grant_bonus"):
        page = client.post(changelist, {"action": action, "_selected_action": [mine["card"].pk]})
        assert page.status_code == 200, action
    anonymise = client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "anonymise", "_selected_action": [mine["customer"].pk]},
    )
    assert anonymise.status_code == 200
    if who == "superuser":
        trash(obj=mine["card"])
        confirm = client.post(
            changelist + "?trashed=yes",
            {"action": "delete_permanently", "_selected_action": [mine["card"].pk]},
        )
        assert confirm.status_code == 200


MANAGER_MODELS = {
    Card,
    StaffPin,
    TerminalKey,
    Transaction,
    BulkBonusJob,
    AuditEntry,
    StaffMembership,
    *(
        model
        for model in admin.site._registry
        if model._meta.app_label in ("merchants", "customers")
    ),
    *(model for model in admin.site._registry if model._meta.model_name == "program"),
}
