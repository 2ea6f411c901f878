import pytest
from django.contrib import admin
from django.urls import reverse

from loyalty.models import Transaction
from loyalty.services import ledger
from tests.factories import UserFactory


@pytest.fixture
def operator_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_every_model_has_a_working_admin_list(operator_client, card, store):
    ledger.earn_points(card=card, store=store, points=10)
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert operator_client.get(url).status_code == 200, url


def test_the_ledger_is_read_only_in_the_admin(operator_client, card, store):
    entry = ledger.earn_points(card=card, store=store, points=10)
    model_admin = admin.site._registry[Transaction]
    request = operator_client.get("/admin/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    response = operator_client.post(
        reverse("admin:loyalty_transaction_change", args=[entry.pk]), {"points_delta": 999}
    )
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.points_delta == 10


def test_the_card_page_shows_its_ledger_and_balances_read_only(operator_client, card, store):
    from loyalty.models import Card

    ledger.earn_points(card=card, store=store, points=10)
    response = operator_client.get(reverse("admin:loyalty_card_change", args=[card.pk]))
    assert response.status_code == 200
    assert b"Points earned" in response.content  # the ledger inline
    form = admin.site._registry[Card].get_form(response.wsgi_request, card)
    editable = set(form.base_fields)
    assert not editable & {"points_balance", "stamp_count", "lifetime_points_earned", "number"}


def test_trashing_a_card_in_the_admin_hides_it_but_keeps_it(operator_client, card):
    from loyalty.models import Card

    operator_client.post(
        reverse("admin:loyalty_card_changelist"),
        {"action": "move_to_trash", "_selected_action": [card.pk]},
    )
    assert not Card.objects.filter(pk=card.pk).exists()
    assert Card.all_objects.get(pk=card.pk).deleted_at is not None
    operator_client.post(
        reverse("admin:loyalty_card_changelist") + "?trashed=yes",
        {"action": "restore_from_trash", "_selected_action": [card.pk]},
    )
    assert Card.objects.filter(pk=card.pk).exists()


def test_restoring_a_second_live_programme_is_refused_with_a_message(operator_client, program):
    from loyalty.models import Program
    from merchants import services
    from tests.factories import ProgramFactory

    services.trash(obj=program)
    ProgramFactory(merchant=program.merchant, name="Newer")
    response = operator_client.post(
        reverse("admin:loyalty_program_changelist") + "?trashed=all",
        {"action": "restore_from_trash", "_selected_action": [program.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"cannot be restored" in response.content
    assert Program.all_objects.get(pk=program.pk).deleted_at is not None


def test_an_operator_lifts_a_terminal_keys_suspension(operator_client, store, card):
    import datetime

    from django.utils import timezone

    from loyalty.models import TerminalKey
    from tests.factories import TerminalKeyFactory

    now = timezone.now()
    suspended = TerminalKeyFactory(
        store=store,
        suspended_at=now,
        pin_locked_until=now + datetime.timedelta(minutes=15),
        last_pin_lock_at=now,
        previous_pin_lock_at=now - datetime.timedelta(hours=1),
    )
    other = TerminalKeyFactory(store=store, pin_locked_until=now + datetime.timedelta(minutes=9))
    changelist = reverse("admin:loyalty_terminalkey_changelist")
    listed = operator_client.get(changelist, {"suspended": "yes"})
    assert list(listed.context["cl"].result_list) == [suspended]

    response = operator_client.post(
        changelist,
        {"action": "lift_suspension", "_selected_action": [suspended.pk, other.pk]},
        follow=True,
    )

    assert "Lifted the suspension of 1 terminal key(s)" in response.content.decode()
    suspended.refresh_from_db()
    assert (
        suspended.suspended_at,
        suspended.pin_locked_until,
        suspended.last_pin_lock_at,
        suspended.previous_pin_lock_at,
    ) == (None, None, None, None)
    # A key that was only locked, not suspended, is left as it was.
    assert TerminalKey.objects.get(pk=other.pk).pin_locked_until == other.pin_locked_until
