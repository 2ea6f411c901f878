"""Trash and restore with cascade, permanent deletion, and enrolment beside a trashed
programme's card."""

import pytest
from django.urls import reverse
from django.utils import timezone

from loyalty.errors import RetiredProgramCard
from loyalty.models import Card, Program, Reward, StaffPin
from loyalty.services import ledger
from loyalty.services import trash as permanent
from merchants import services
from merchants.models import AuditEntry, Merchant, Store
from tests.factories import (
    CardFactory,
    MerchantFactory,
    ProgramFactory,
    RewardFactory,
    StaffPinFactory,
    StoreFactory,
    UserFactory,
)


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def _live(model, **filters):
    return set(model.objects.filter(**filters).values_list("pk", flat=True))


def test_trashing_a_merchant_cascades_and_restoring_brings_back_exactly_that(operator):
    merchant = MerchantFactory()
    main, north = StoreFactory(merchant=merchant), StoreFactory(merchant=merchant)
    old = ProgramFactory(merchant=merchant, name="Old")
    old_cards = [CardFactory(program=old, enrolled_store=main) for _ in range(10)]
    services.trash(obj=old, actor=operator)  # on its own, with its 10 cards
    current = ProgramFactory(merchant=merchant, name="Current")
    cards = [
        CardFactory(program=current, enrolled_store=store)
        for store in [main, north] * 20  # 40 cards: 50 in all with the old programme's
    ]
    lone = cards[0]
    services.trash(obj=lone, actor=operator)
    rival = ProgramFactory()
    rival_card = CardFactory(program=rival)

    counts = services.trash(obj=merchant, actor=operator)

    assert counts == {"stores": 2, "programs": 1, "cards": 39}
    assert not _live(Merchant, pk=merchant.pk)
    assert not _live(Store, merchant=merchant)
    assert not _live(Program, merchant=merchant)
    assert not _live(Card, program__merchant=merchant)
    assert _live(Card, pk=rival_card.pk)  # another merchant's card is untouched

    services.restore(obj=merchant, actor=operator)

    assert _live(Merchant, pk=merchant.pk)
    assert _live(Store, merchant=merchant) == {main.pk, north.pk}
    assert _live(Program, merchant=merchant) == {current.pk}
    assert _live(Card, program__merchant=merchant) == {card.pk for card in cards[1:]}
    assert Card.all_objects.get(pk=lone.pk).deleted_at is not None
    assert all(Card.all_objects.get(pk=c.pk).deleted_at is not None for c in old_cards)
    actions = list(
        AuditEntry.objects.filter(object_type="merchants.merchant").values_list("action", flat=True)
    )
    assert sorted(actions) == ["restored", "trashed"]


def test_a_card_trashed_with_its_programme_cannot_be_restored_alone(operator, program, card):
    services.trash(obj=program, actor=operator)
    with pytest.raises(services.RestoreConflict, match="restore that first"):
        services.restore(obj=card, actor=operator)
    assert Card.all_objects.get(pk=card.pk).deleted_at is not None


def test_the_admins_delete_moves_to_the_trash_after_a_confirmation(
    operator_client, merchant, store, program, card
):
    url = reverse("admin:merchants_merchant_delete", args=[merchant.pk])
    page = operator_client.get(url)
    assert page.status_code == 200
    assert "Move to the trash" in page.content.decode()

    response = operator_client.post(url, follow=True)

    message = response.context["messages"]
    [text] = [str(m) for m in message]
    assert text.startswith("1 moved to the trash, with ")
    assert {"1 stores", "1 programs", "1 cards"} == set(text[27:-1].split(", "))
    assert Merchant.all_objects.get(pk=merchant.pk).deleted_at is not None
    assert Card.all_objects.get(pk=card.pk).deleted_at is not None


def test_the_trash_filter_shows_live_rows_unless_asked(operator_client, store, other_store):
    services.trash(obj=other_store)
    changelist = reverse("admin:merchants_store_changelist")
    listed = operator_client.get(changelist).context["cl"].result_list
    trashed = operator_client.get(changelist, {"trashed": "yes"}).context["cl"].result_list
    both = operator_client.get(changelist, {"trashed": "all"}).context["cl"].result_list
    assert list(listed) == [store]
    assert list(trashed) == [other_store]
    assert set(both) == {store, other_store}


def test_deleting_permanently_lists_what_goes_then_deletes_it(
    operator_client, operator, merchant, store
):
    program = ProgramFactory(merchant=merchant)
    RewardFactory(program=program)
    StaffPinFactory(store=store)
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    services.trash(obj=merchant)
    changelist = reverse("admin:merchants_merchant_changelist") + "?trashed=yes"
    data = {"action": "delete_permanently", "_selected_action": [merchant.pk]}

    page = operator_client.post(changelist, data).content.decode()

    assert "3 cards" in page and "1 rewards" in page and "1 staff PINs" in page
    assert cards[0].number in page
    assert Merchant.all_objects.filter(pk=merchant.pk).exists()

    operator_client.post(changelist, {**data, "confirmed": "yes"})

    assert not Merchant.all_objects.filter(pk=merchant.pk).exists()
    assert not Card.all_objects.filter(pk__in=[c.pk for c in cards]).exists()
    assert not Reward.objects.exists() and not StaffPin.objects.exists()
    audit = AuditEntry.objects.get(action="deleted")
    assert (audit.actor, audit.object_id, audit.merchant_id) == (operator, str(merchant.pk), None)


@pytest.mark.parametrize("kind", ["card", "program", "store", "merchant"])
def test_rows_with_ledger_history_are_never_deleted_permanently(
    operator_client, operator, card, store, kind
):
    ledger.earn_points(card=card, store=store, points=5)
    obj = {"card": card, "program": card.program, "store": store, "merchant": store.merchant}[kind]
    services.trash(obj=obj)
    opts = type(obj)._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") + "?trashed=yes"
    data = {"action": "delete_permanently", "_selected_action": [obj.pk]}

    page = operator_client.post(changelist, data).content.decode()
    assert "It has ledger history, which is never deleted" in page
    assert 'name="confirmed"' not in page
    operator_client.post(changelist, {**data, "confirmed": "yes"})

    assert type(obj).all_objects.filter(pk=obj.pk).exists()
    with pytest.raises(permanent.HasLedgerHistory):
        permanent.delete_permanently(obj=obj, actor=operator)


def test_only_trashed_rows_are_deleted_permanently(operator, card):
    with pytest.raises(permanent.NotInTrash):
        permanent.delete_permanently(obj=card, actor=operator)
    assert Card.objects.filter(pk=card.pk).exists()


def test_only_superusers_see_and_run_delete_permanently(client, merchant, card):
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(user=manager, merchant=merchant, role=StaffMembership.Role.OWNER)
    services.trash(obj=card)
    client.force_login(manager)
    changelist = reverse("admin:loyalty_card_changelist") + "?trashed=yes"
    page = client.get(changelist)
    assert "delete_permanently" not in page.content.decode()
    client.post(
        changelist,
        {"action": "delete_permanently", "_selected_action": [card.pk], "confirmed": "yes"},
    )
    assert Card.all_objects.filter(pk=card.pk).exists()


def test_enrolling_beside_a_live_card_of_a_trashed_programme_is_a_clean_refusal(store):
    merchant = store.merchant
    old = ProgramFactory(merchant=merchant, name="Old")
    card = ledger.enroll_customer(
        program=old, store=store, email="ann@example.com", first_name="Ann"
    )
    # Trashed before trashing cascaded: the card stayed live.
    Program.all_objects.filter(pk=old.pk).update(deleted_at="2026-01-01T00:00:00Z")
    new = ProgramFactory(merchant=merchant, name="New")

    with pytest.raises(RetiredProgramCard):
        ledger.enroll_customer(program=new, store=store, email="ann@example.com", first_name="A")

    assert list(Card.objects.filter(customer=card.customer)) == [card]


def _merchant_with_everything():
    """A trashed-to-be merchant with a row of every kind permanent deletion removes."""
    from tests.factories import CustomerFactory, OutgoingEmailFactory, TerminalKeyFactory

    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    program = ProgramFactory(merchant=merchant)
    RewardFactory(program=program)
    RewardFactory(program=program, name="Cake", points_cost=200)
    customer = CustomerFactory(merchant=merchant)
    cards = [
        CardFactory(program=program, enrolled_store=store, customer=customer),
        CardFactory(program=program, enrolled_store=store, customer=None),
        CardFactory(program=program, enrolled_store=store, customer=None),
    ]
    StaffPinFactory(store=store)
    TerminalKeyFactory(store=store)
    OutgoingEmailFactory(merchant=merchant)
    return {"merchant": merchant, "store": store, "program": program, "cards": cards}


@pytest.mark.parametrize(
    ("kind", "removed"),
    [
        ("card", {"cards": 1}),
        ("program", {"cards": 3, "rewards": 2, "programmes": 1}),
        ("store", {"cards": 3, "staff PINs": 1, "terminal API keys": 1, "stores": 1}),
        (
            "merchant",
            {
                "cards": 4,
                "rewards": 2,
                "programmes": 2,
                "staff PINs": 1,
                "terminal API keys": 1,
                "emails": 1,
                "customers": 2,
                "stores": 2,
                "merchants": 1,
            },
        ),
    ],
)
def test_deleting_permanently_removes_the_row_and_its_children_only(
    operator, rival_merchant, kind, removed
):
    rows = _merchant_with_everything()
    merchant, program, cards = rows["merchant"], rows["program"], rows["cards"]
    # A second programme (an earlier one, in the trash) and store of the same merchant, out
    # of a card's, programme's or store's reach.
    sibling_program = ProgramFactory(merchant=merchant, name="Other", deleted_at=timezone.now())
    sibling_store = StoreFactory(merchant=merchant)
    sibling_card = CardFactory(program=sibling_program, enrolled_store=sibling_store)
    obj = {"card": cards[1], "program": program, "store": rows["store"], "merchant": merchant}[kind]
    services.trash(obj=obj)

    counts = permanent.delete_permanently(obj=obj, actor=operator)

    assert counts == removed
    assert not type(obj).all_objects.filter(pk=obj.pk).exists()
    rival = rival_merchant
    assert Card.all_objects.filter(pk=rival["card"].pk).exists()
    assert Store.all_objects.filter(pk=rival["store"].pk).exists()
    assert Program.all_objects.filter(pk=rival["program"].pk).exists()
    assert Merchant.all_objects.filter(pk=rival["merchant"].pk).exists()
    kept_cards = {
        "card": {cards[0].pk, cards[2].pk, sibling_card.pk},
        "program": {sibling_card.pk},
        "store": {sibling_card.pk},
        "merchant": set(),
    }[kind]
    kept = Card.all_objects.filter(program__merchant=merchant).values_list("pk", flat=True)
    assert set(kept) == kept_cards
    audit = AuditEntry.objects.get(action=AuditEntry.Action.DELETED)
    assert (audit.actor, audit.object_type, audit.object_id) == (
        operator,
        type(obj)._meta.label_lower,
        str(obj.pk),
    )
    # A merchant's own entry keeps no merchant: the merchant is gone.
    assert audit.merchant_id == (None if kind == "merchant" else merchant.pk)


def test_a_store_keeps_ledger_rows_of_its_cards_elsewhere_and_of_other_cards_there(
    operator, store, other_store, program
):
    from tests.factories import TransactionFactory

    enrolled_here = CardFactory(program=program, enrolled_store=store)
    enrolled_there = CardFactory(program=program, enrolled_store=other_store)
    third = StoreFactory(merchant=store.merchant)
    TransactionFactory(card=enrolled_here, store=other_store)
    TransactionFactory(card=enrolled_there, store=third)
    # other_store: its own card used elsewhere; third: another store's card used there.
    for obj in (store, third):
        services.trash(obj=obj)
        assert permanent.deletion_plan(obj).has_ledger_history
        with pytest.raises(permanent.HasLedgerHistory) as refused:
            permanent.delete_permanently(obj=obj, actor=operator)
        assert refused.value.code == "has_ledger_history"
        # The row is named: the admin refuses several rows at once.
        assert refused.value.detail == f"{obj}: {permanent.HasLedgerHistory.default_detail}"
        assert Store.all_objects.filter(pk=obj.pk).exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.DELETED).exists()

    clean = StoreFactory(merchant=store.merchant)
    services.trash(obj=clean)
    assert not permanent.deletion_plan(clean).has_ledger_history


@pytest.mark.parametrize("kind", ["card", "program", "merchant"])
def test_only_the_rows_own_ledger_history_counts(rival_merchant, kind):
    from tests.factories import TransactionFactory

    TransactionFactory(card=rival_merchant["card"])
    rows = _merchant_with_everything()
    earlier = ProgramFactory(merchant=rows["merchant"], deleted_at=timezone.now())
    TransactionFactory(card=CardFactory(program=earlier, enrolled_store=rows["store"]))
    obj = {"card": rows["cards"][0], "program": rows["program"], "merchant": None}[kind]
    if kind == "merchant":
        obj = MerchantFactory()  # another merchant's ledger only
    assert not permanent.deletion_plan(obj).has_ledger_history


def test_the_confirmation_lists_each_kind_with_its_count_and_first_rows(merchant, store, program):
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(21)]
    RewardFactory(program=program)

    listing = permanent.deletion_plan(program).listing()

    assert [(label, count) for label, count, _ in listing] == [
        ("cards", 21),
        ("rewards", 1),
        ("programmes", 1),
    ]
    names = listing[0][2]
    assert len(names) == 20 and set(names) < {card.number for card in cards}
    assert listing[1][2] == ["Coffee (100 points)"] and listing[2][2] == [program.name]
    assert permanent.deletion_plan(program).listing(limit=2)[0][2] == names[:2]


def test_kinds_without_rows_are_left_out_of_the_listing(program, store):
    assert permanent.deletion_plan(store).listing() == [("stores", 1, [str(store)])]


def test_only_merchants_stores_programmes_and_cards_have_a_deletion_plan(program):
    with pytest.raises(TypeError, match="^Reward has no permanent deletion.$"):
        permanent.deletion_plan(RewardFactory(program=program))
