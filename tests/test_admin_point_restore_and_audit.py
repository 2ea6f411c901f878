"""Point restore from the card's page, the card's ledger pane, and the audit trail."""

import pytest
from django.db.models import Sum
from django.urls import reverse

from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import card_operations, ledger
from merchants.access import NotAllowed
from merchants.models import AuditEntry, StaffMembership
from tests.factories import StaffMembershipFactory, UserFactory


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def test_an_operator_restores_points_from_the_cards_page(operator_client, operator, card, store):
    ledger.earn_points(card=card, store=store, points=40)
    page = operator_client.get(reverse("admin:loyalty_card_change", args=[card.pk]))
    restore_url = reverse("admin:loyalty_card_restore_points", args=[card.pk])
    assert restore_url in page.content.decode()
    assert operator_client.get(restore_url).status_code == 200
    before = set(Transaction.objects.values_list("pk", flat=True))

    response = operator_client.post(restore_url, {"points": 25, "reason": "Wrong expiry"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:loyalty_card_change", args=[card.pk])
    [entry] = Transaction.objects.exclude(pk__in=before)
    assert (
        entry.card_id,
        entry.type,
        entry.points_delta,
        entry.points_balance_after,
        entry.reason,
        entry.acting_admin,
        entry.acting_user,
        entry.store,
        entry.merchant_id,
    ) == (
        card.pk,
        TransactionType.POINTS_ADJUSTED,
        25,
        65,
        "Wrong expiry",
        operator,
        None,
        None,
        card.program.merchant_id,
    )
    card.refresh_from_db()
    assert card.points_balance == 65
    audit = AuditEntry.objects.get()
    assert (
        audit.actor,
        audit.merchant_id,
        audit.object_type,
        audit.object_id,
        audit.action,
        audit.reason,
        audit.changes,
    ) == (
        operator,
        card.program.merchant_id,
        "loyalty.card",
        str(card.pk),
        "points_restored",
        "Wrong expiry",
        {"points": 25, "transaction_id": entry.pk},
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"points": 0, "reason": "x"}, "points"),
        ({"points": -5, "reason": "x"}, "points"),
        ({"points": 5, "reason": ""}, "reason"),
        ({"points": "many", "reason": "x"}, "points"),
    ],
)
def test_a_bad_restore_shows_the_error_and_writes_nothing(operator_client, card, data, field):
    response = operator_client.post(
        reverse("admin:loyalty_card_restore_points", args=[card.pk]), data
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not Transaction.objects.exists()
    assert not AuditEntry.objects.exists()


def test_restoring_points_to_an_inactive_card_is_refused_with_a_message(
    operator_client, operator, card
):
    card_operations.deactivate_cards(cards=[card], reason="lost", user=operator)
    response = operator_client.post(
        reverse("admin:loyalty_card_restore_points", args=[card.pk]),
        {"points": 5, "reason": "x"},
    )
    assert response.status_code == 200
    assert "The card is not active." in response.content.decode()
    assert not Transaction.objects.exists()


def test_a_merchants_manager_restores_points_as_themselves(card, store):
    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=manager, merchant=card.program.merchant, role=StaffMembership.Role.MANAGER
    )
    entry = card_operations.restore_points(card=card, points=3, reason="Goodwill", user=manager)
    assert (entry.acting_user, entry.acting_admin) == (manager, None)


def test_store_staff_may_not_restore_points(card):
    clerk = UserFactory(is_staff=True)
    StaffMembershipFactory(user=clerk, merchant=card.program.merchant)
    with pytest.raises(NotAllowed):
        card_operations.restore_points(card=card, points=3, reason="Goodwill", user=clerk)
    assert not Transaction.objects.exists()


def test_the_cards_page_shows_its_ledger_newest_first_twenty_a_page(operator_client, card, store):
    for points in range(1, 26):
        ledger.earn_points(card=card, store=store, points=points)
    url = reverse("admin:loyalty_card_change", args=[card.pk])

    first = operator_client.get(url).context["ledger_page"]
    second = operator_client.get(url, {"ledger_page": 2}).context["ledger_page"]

    assert [entry.points_delta for entry in first] == list(range(25, 5, -1))
    assert [entry.points_delta for entry in second] == [5, 4, 3, 2, 1]
    assert not second.has_next()
    page = operator_client.get(url, {"ledger_page": 2}).content.decode()
    assert "?ledger_page=1#card-ledger" in page
    assert "Page 2 of 2" in page


def test_the_audit_trail_is_read_only_and_filterable(operator_client, operator, card, store):
    card_operations.restore_points(card=card, points=3, reason="one", user=operator)
    card_operations.deactivate_cards(cards=[card], reason="two", user=operator)
    changelist = reverse("admin:merchants_auditentry_changelist")

    filtered = operator_client.get(changelist, {"action__exact": "card_deactivated"})

    assert [entry.reason for entry in filtered.context["cl"].result_list] == ["two"]
    entry = AuditEntry.objects.first()
    assert operator_client.get(reverse("admin:merchants_auditentry_add")).status_code == 403
    response = operator_client.post(
        reverse("admin:merchants_auditentry_change", args=[entry.pk]), {"reason": "changed"}
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.reason in {"one", "two"} and entry.reason != "changed"


def test_an_admin_change_to_a_programme_is_audited(operator_client, operator, program):
    url = reverse("admin:loyalty_program_change", args=[program.pk])
    form = operator_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "name": "Gold",
            "rewards-TOTAL_FORMS": "0",
            "rewards-INITIAL_FORMS": "0",
            "merchant": program.merchant_id,
        }
    )
    for flag in ("allow_cross_location_redemption", "require_staff_pin"):
        if not data.get(flag):
            data.pop(flag, None)

    response = operator_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    program.refresh_from_db()
    assert program.name == "Gold"
    audit = AuditEntry.objects.get()
    assert (audit.actor, audit.action, audit.merchant_id, audit.object_type) == (
        operator,
        "changed",
        program.merchant_id,
        "loyalty.program",
    )
    assert "name" in audit.changes["fields"]


def test_restoring_points_keeps_the_balance_equal_to_the_ledger(operator, card, store):
    ledger.earn_points(card=card, store=store, points=10)
    card_operations.restore_points(card=card, points=7, reason="x", user=operator)
    card = Card.objects.get(pk=card.pk)
    total = card.transactions.aggregate(total=Sum("points_delta"))["total"]
    assert card.points_balance == total == 17


def test_an_operator_giving_a_manager_access_is_audited(operator_client, operator, merchant):
    manager = UserFactory(is_staff=True)
    response = operator_client.post(
        "/admin/merchants/staffmembership/add/",
        {"user": manager.pk, "merchant": merchant.pk, "store": "", "role": "manager"},
    )
    assert response.status_code == 302
    membership = StaffMembership.objects.get(user=manager)
    assert (membership.merchant, membership.role) == (merchant, "manager")
    audit = AuditEntry.objects.get()
    assert (audit.actor, audit.action, audit.merchant_id, audit.object_type) == (
        operator,
        "created",
        merchant.pk,
        "merchants.staffmembership",
    )


@pytest.mark.parametrize(
    ("points", "reason", "fields"),
    [
        (0, "x", {"points": ["invalid"]}),
        (-1, "x", {"points": ["invalid"]}),
        (True, "x", {"points": ["invalid"]}),
        (2.0, "x", {"points": ["invalid"]}),
        ("2", "x", {"points": ["invalid"]}),
        (2, "", {"reason": ["required"]}),
        (2, "  ", {"reason": ["required"]}),
        (2, None, {"reason": ["required"]}),
    ],
)
def test_the_restore_service_refuses_bad_points_or_no_reason(
    operator, card, points, reason, fields
):
    from loyalty.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        card_operations.restore_points(card=card, points=points, reason=reason, user=operator)
    assert refused.value.fields == fields
    expected = {
        "points": "Points to restore must be a positive whole number.",
        "reason": "A reason is required.",
    }[next(iter(fields))]
    assert refused.value.detail == expected
    assert not Transaction.objects.exists() and not AuditEntry.objects.exists()


def test_one_point_is_restored_with_the_reason_trimmed(operator, card):
    entry = card_operations.restore_points(card=card, points=1, reason="  Goodwill ", user=operator)
    assert (entry.points_delta, entry.reason, entry.acting_admin) == (1, "Goodwill", operator)
    audit = AuditEntry.objects.get()
    assert (audit.reason, audit.changes) == ("Goodwill", {"points": 1, "transaction_id": entry.pk})


def test_a_store_scoped_manager_restores_points_on_their_stores_cards_only(
    card, program, other_store
):
    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=manager,
        merchant=card.program.merchant,
        store=other_store,
        role=StaffMembership.Role.MANAGER,
    )
    with pytest.raises(NotAllowed):
        card_operations.restore_points(card=card, points=3, reason="Goodwill", user=manager)
    assert not Transaction.objects.exists()
