"""Bulk actions on cards and PINs: each reports what changed and what was skipped, and why."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from loyalty.models import BulkBonusJob, Card, Program, StaffPin, Transaction, TransactionType
from loyalty.pins import pin_digest
from loyalty.services import bulk_bonus, card_operations, ledger
from merchants import services
from merchants.models import AuditEntry
from tests.conftest import ON_POSTGRES
from tests.factories import CardFactory, ProgramFactory, StaffPinFactory, UserFactory

CHANGELIST = "admin:loyalty_card_changelist"


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def mixed(program, store, operator):
    """An active card, an inactive one, a trashed one."""
    active = CardFactory(program=program, enrolled_store=store)
    inactive = CardFactory(program=program)
    card_operations.deactivate_cards(cards=[inactive], reason="lost", user=operator)
    trashed = CardFactory(program=program)
    services.trash(obj=trashed)
    AuditEntry.objects.all().delete()
    return {"active": active, "inactive": inactive, "trashed": trashed}


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def _post(client, action, cards, **data):
    return client.post(
        reverse(CHANGELIST) + "?trashed=all",
        {"action": action, "_selected_action": [card.pk for card in cards], **data},
        follow=True,
    )


def test_deactivating_asks_for_a_reason_then_reports_changed_and_skipped(
    operator_client, operator, mixed
):
    cards = list(mixed.values())
    page = operator_client.post(
        reverse(CHANGELIST) + "?trashed=all",
        {"action": "deactivate", "_selected_action": [card.pk for card in cards]},
    )
    assert page.status_code == 200 and page.context["title"] == "Deactivate cards"
    missing_reason = _post(operator_client, "deactivate", cards, confirmed="yes", reason="")
    assert missing_reason.context["form"].errors["reason"]
    assert Card.all_objects.get(pk=mixed["active"].pk).is_active

    response = _post(operator_client, "deactivate", cards, confirmed="yes", reason="Fraud")

    [message] = _messages(response)
    assert message.startswith("Deactivated: 1 changed, 2 skipped (")
    assert f"{mixed['inactive'].number}: already inactive" in message
    assert f"{mixed['trashed'].number}: in the trash" in message
    assert not Card.all_objects.get(pk=mixed["active"].pk).is_active
    audit = AuditEntry.objects.get()
    assert (audit.action, audit.object_id, audit.reason, audit.actor) == (
        "card_deactivated",
        str(mixed["active"].pk),
        "Fraud",
        operator,
    )


def test_reactivating_reports_changed_and_skipped(operator_client, mixed):
    response = _post(operator_client, "reactivate", list(mixed.values()))
    [message] = _messages(response)
    assert message.startswith("Reactivated: 1 changed, 2 skipped (")
    assert f"{mixed['active'].number}: already active" in message
    assert f"{mixed['trashed'].number}: in the trash" in message
    assert Card.all_objects.get(pk=mixed["inactive"].pk).is_active
    assert [entry.object_id for entry in AuditEntry.objects.all()] == [str(mixed["inactive"].pk)]


def test_granting_a_bonus_writes_one_ledger_row_per_card_through_the_service(
    operator_client, operator, mixed, merchant, store
):
    stamps_only = CardFactory(program=ProgramFactory(kind=Program.Kind.STAMPS))
    second = CardFactory(program=mixed["active"].program, enrolled_store=store)
    ledger.earn_points(card=second, store=store, points=7)
    cards = [*mixed.values(), stamps_only, second]
    page = _post(operator_client, "grant_bonus", cards)
    assert page.context["title"] == "Grant bonus points"
    bad = _post(operator_client, "grant_bonus", cards, confirmed="yes", points=0, reason="x")
    assert bad.context["form"].errors["points"]
    assert not Transaction.objects.filter(type=TransactionType.POINTS_ADJUSTED).exists()

    response = _post(
        operator_client, "grant_bonus", cards, confirmed="yes", points=50, reason="Gift"
    )

    [message] = _messages(response)
    assert message.startswith("Bonus of 50 points: 2 changed, 3 skipped (")
    assert f"{mixed['inactive'].number}: The card is not active." in message
    assert f"{stamps_only.number}: The programme does not collect points." in message
    rows = Transaction.objects.filter(type=TransactionType.POINTS_ADJUSTED).order_by("card_id")
    assert [
        (r.card_id, r.points_delta, r.points_balance_after, r.reason, r.acting_admin) for r in rows
    ] == [
        (mixed["active"].pk, 50, 50, "Gift", operator),
        (second.pk, 50, 57, "Gift", operator),
    ]
    assert AuditEntry.objects.filter(action="bonus_granted").count() == 2


def test_exporting_cards_as_csv(operator_client, card, store):
    ledger.earn_points(card=card, store=store, points=12)
    response = operator_client.post(
        reverse(CHANGELIST), {"action": "export_csv", "_selected_action": [card.pk]}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:7] == [
        "number",
        "merchant",
        "program",
        "enrolled_store",
        "customer_email",
        "points_balance",
        "stamp_count",
    ]
    assert rows[1][:9] == [
        card.number,
        card.program.merchant.slug,
        card.program.name,
        "main",
        card.customer.email,
        "12",
        "0",
        "yes",
        "no",
    ]
    assert len(rows) == 2


def test_assigning_pins_in_bulk_from_the_form(operator_client, operator, store):
    StaffPinFactory(store=store, staff_name="Bea", pin="5555")
    reset = StaffPinFactory(store=store, staff_name="Cy", pin="1212", failed_attempts=3)
    url = reverse("admin:loyalty_staffpin_assign")
    assert url in operator_client.get(reverse("admin:loyalty_staffpin_changelist")).content.decode()
    text = (
        "staff_name,pin,is_manager\nAnn,4821,yes\nDan,12,no\nEve,5555,no\nCy,3434,\nAnn,9999,no\n"
    )

    response = operator_client.post(url, {"store": store.pk, "pins": text}, follow=True)

    [message] = _messages(response)
    assert message.startswith("PINs set: 2 changed, 3 skipped (")
    assert "Dan: A PIN is 4 to 8 digits." in message
    assert "Eve: Another staff member at this store has that PIN" in message
    assert "Ann: given twice in this list" in message
    ann = StaffPin.objects.get(store=store, staff_name="Ann")
    assert (ann.pin_digest, ann.is_manager) == (pin_digest("4821"), True)
    reset.refresh_from_db()
    assert (reset.pin_digest, reset.failed_attempts) == (pin_digest("3434"), 0)
    assert AuditEntry.objects.filter(action="pin_set").count() == 2


def test_assigning_pins_from_an_uploaded_csv(operator_client, store):
    upload = SimpleUploadedFile(
        "pins.csv", b"\xef\xbb\xbfstaff_name,pin\nAnn,4821\nBo,4822\n", "text/csv"
    )
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_assign"), {"store": store.pk, "file": upload}, follow=True
    )
    assert _messages(response) == ["PINs set: 2 changed, 0 skipped."]
    assert set(StaffPin.objects.values_list("staff_name", flat=True)) == {"Ann", "Bo"}


def test_a_csv_without_its_header_is_refused_with_a_message(operator_client, store):
    response = operator_client.post(
        reverse("admin:loyalty_staffpin_assign"), {"store": store.pk, "pins": "Ann,4821\n"}
    )
    assert response.status_code == 200
    assert "The CSV needs a header row" in response.content.decode()
    assert not StaffPin.objects.exists()


def test_a_bulk_bonus_job_runs_in_chunks_and_records_its_progress(
    operator, program, store, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk_bonus, "CHUNK_SIZE", 2)
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(4)]
    inactive = CardFactory(program=program, enrolled_store=store, is_active=False)
    foreign = CardFactory()
    ids = [c.pk for c in [*cards, inactive, foreign]]
    with django_capture_on_commit_callbacks() as callbacks:
        job = bulk_bonus.start_bulk_bonus(
            merchant_id=program.merchant_id, card_ids=ids, points=5, reason="Promo", user=operator
        )
    assert (job.status, job.processed, job.total) == ("queued", 0, 6)

    assert bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk) is True
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed, job.percent_done) == ("running", 2, 2, 33)

    with django_capture_on_commit_callbacks(execute=True):
        callbacks[0]()  # the queued task runs the rest, chunk after chunk (eager Celery)
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed) == ("done", 6, 4)
    assert job.skipped == {
        inactive.number: "The card is not active.",
        "1 card(s)": "not found in this merchant, or already done",
    }
    rows = Transaction.objects.filter(type=TransactionType.POINTS_ADJUSTED)
    assert sorted(rows.values_list("card_id", flat=True)) == sorted(c.pk for c in cards)
    assert set(rows.values_list("reason", flat=True)) == {f"Promo (bulk bonus #{job.pk})"}
    assert bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk) is False


def test_a_redone_chunk_grants_nothing_twice(operator, program, store, monkeypatch):
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    job = bulk_bonus.start_bulk_bonus(
        merchant_id=program.merchant_id,
        card_ids=[c.pk for c in cards],
        points=5,
        reason="Promo",
        user=operator,
    )
    bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk)
    # As if the worker died after the ledger rows but before saving the progress.
    BulkBonusJob.objects.filter(pk=job.pk).update(processed=0, changed=0, status="running")
    bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk)
    assert Transaction.objects.filter(type=TransactionType.POINTS_ADJUSTED).count() == 3
    assert all(Card.objects.get(pk=c.pk).points_balance == 5 for c in cards)


def test_the_job_page_shows_its_progress(operator_client, operator, program, card):
    job = bulk_bonus.start_bulk_bonus(
        merchant_id=program.merchant_id, card_ids=[card.pk], points=5, reason="x", user=operator
    )
    url = reverse("admin:loyalty_bulkbonusjob_change", args=[job.pk])
    page = operator_client.get(url).content.decode()
    assert "0 of 1 cards (0%)" in page
    # The page reloads itself while the job runs, and stops once it is done.
    assert '<meta http-equiv="refresh" content="5">' in page
    bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk)
    page = operator_client.get(url).content.decode()
    assert "1 of 1 cards (100%)" in page
    assert 'http-equiv="refresh"' not in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bonus_on_ten_thousand_cards_runs_through_the_task_in_chunks(operator):
    from django.db.models import Sum

    from tests.factories import MerchantFactory, StoreFactory

    assert ON_POSTGRES
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    program = ProgramFactory(merchant=merchant)
    from loyalty import card_numbers

    Card.objects.bulk_create(
        Card(program=program, enrolled_store=store, number=card_numbers.generate())
        for _ in range(10_000)
    )
    ids = list(Card.objects.filter(program=program).values_list("pk", flat=True))

    # Outside any transaction: the job commits and its first chunk's task runs after commit,
    # then each chunk queues the next (eagerly here, on a worker in production).
    job = bulk_bonus.start_bulk_bonus(
        merchant_id=merchant.pk, card_ids=ids, points=3, reason="Anniversary", user=operator
    )

    job.refresh_from_db()
    assert (job.status, job.processed, job.changed, job.skipped) == ("done", 10_000, 10_000, {})
    rows = Transaction.objects.filter(merchant_id=merchant.pk, type=TransactionType.POINTS_ADJUSTED)
    assert rows.count() == 10_000
    assert rows.values("card_id").distinct().count() == 10_000
    assert Card.objects.filter(program=program).aggregate(total=Sum("points_balance")) == {
        "total": 30_000
    }


def test_a_large_selection_runs_as_a_background_job_from_the_admin(
    operator_client, program, store, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk_bonus, "SYNCHRONOUS_LIMIT", 2)
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    data = {
        "action": "grant_bonus",
        "select_across": "1",
        "index": "0",
        "_selected_action": [cards[0].pk],
    }
    page = operator_client.post(reverse(CHANGELIST), data)
    assert page.context["target_count"] == 3
    assert 'name="select_across" value="1"' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator_client.post(
            reverse(CHANGELIST),
            {**data, "confirmed": "yes", "points": 2, "reason": "Launch"},
            follow=True,
        )

    job = BulkBonusJob.objects.get()
    [message] = _messages(response)
    assert "The bonus for 3 cards runs in the background" in message
    assert reverse("admin:loyalty_bulkbonusjob_change", args=[job.pk]) in message
    job.refresh_from_db()
    assert (job.status, job.changed) == ("done", 3)
    assert all(Card.objects.get(pk=card.pk).points_balance == 2 for card in cards)


def test_an_outcome_sums_up_what_changed_and_what_was_skipped_and_why():
    outcome = card_operations.BulkOutcome()
    assert outcome.summary() == "0 changed, 0 skipped."
    outcome.changed += ["A", "B"]
    assert outcome.summary() == "2 changed, 0 skipped."
    outcome.skipped.update({"C": "in the trash", "D": "already active"})
    assert outcome.summary() == "2 changed, 2 skipped (C: in the trash; D: already active)."


def _manager(merchant, store=None):
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    manager = UserFactory(is_staff=True)
    StaffMembershipFactory(
        user=manager, merchant=merchant, store=store, role=StaffMembership.Role.MANAGER
    )
    return manager


@pytest.mark.parametrize(
    ("points", "reason", "fields"),
    [
        (0, "x", {"points": ["invalid"]}),
        (-3, "x", {"points": ["invalid"]}),
        (True, "x", {"points": ["invalid"]}),
        (3.0, "x", {"points": ["invalid"]}),
        (3, " ", {"reason": ["required"]}),
        (3, None, {"reason": ["required"]}),
    ],
)
def test_a_bonus_refuses_bad_points_or_no_reason(operator, card, points, reason, fields):
    from loyalty.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        card_operations.grant_bonus(cards=[card], points=points, reason=reason, user=operator)
    assert refused.value.fields == fields
    assert (
        refused.value.detail
        == {
            "points": "Bonus points must be a positive whole number.",
            "reason": "A reason is required.",
        }[next(iter(fields))]
    )
    assert not Transaction.objects.exists() and not AuditEntry.objects.exists()


def test_a_managers_bonus_is_theirs_and_skips_cards_outside_their_store(
    merchant, program, store, other_store, rival_merchant
):
    manager = _manager(merchant, store=store)
    here = CardFactory(program=program, enrolled_store=store)
    there = CardFactory(program=program, enrolled_store=other_store)
    rival = rival_merchant["card"]

    outcome = card_operations.grant_bonus(
        cards=[here, there, rival], points=1, reason=" Welcome ", user=manager
    )

    assert outcome.changed == [here.number]
    assert outcome.skipped == {
        there.number: "This belongs to another merchant or store.",
        rival.number: "This belongs to another merchant or store.",
    }
    [row] = Transaction.objects.all()
    assert (
        row.card_id,
        row.type,
        row.points_delta,
        row.reason,
        row.acting_user,
        row.acting_admin,
        row.merchant_id,
    ) == (here.pk, TransactionType.POINTS_ADJUSTED, 1, "Welcome", manager, None, merchant.pk)
    audit = AuditEntry.objects.get()
    assert (
        audit.actor,
        audit.action,
        audit.object_id,
        audit.merchant_id,
        audit.reason,
        audit.changes,
    ) == (
        manager,
        "bonus_granted",
        str(here.pk),
        merchant.pk,
        "Welcome",
        {"points": 1, "transaction_id": row.pk},
    )


def test_deactivating_needs_a_reason(operator, card):
    from loyalty.errors import InvalidInput

    for reason in ("", "  ", None):
        with pytest.raises(InvalidInput) as refused:
            card_operations.deactivate_cards(cards=[card], reason=reason, user=operator)
        assert refused.value.fields == {"reason": ["required"]}
    assert Card.objects.get(pk=card.pk).is_active and not AuditEntry.objects.exists()


def test_deactivating_and_reactivating_audit_each_changed_card_only(
    merchant, program, store, other_store, rival_merchant
):
    manager = _manager(merchant)
    first = CardFactory(program=program, enrolled_store=store)
    second = CardFactory(program=program, enrolled_store=other_store)
    rival = rival_merchant["card"]

    off = card_operations.deactivate_cards(
        cards=[first, rival, second], reason=" Fraud ", user=manager
    )

    assert off.changed == [first.number, second.number]
    assert off.skipped == {rival.number: "This belongs to another merchant or store."}
    assert not Card.objects.filter(pk__in=[first.pk, second.pk], is_active=True).exists()
    assert Card.objects.get(pk=rival.pk).is_active
    entries = AuditEntry.objects.order_by("id")
    assert [(e.actor, e.action, e.object_id, e.merchant_id, e.reason) for e in entries] == [
        (manager, "card_deactivated", str(first.pk), merchant.pk, "Fraud"),
        (manager, "card_deactivated", str(second.pk), merchant.pk, "Fraud"),
    ]
    AuditEntry.objects.all().delete()

    on = card_operations.reactivate_cards(cards=[first, rival], user=manager)
    again = card_operations.reactivate_cards(cards=[second], user=manager, reason=" Found ")

    assert (on.changed, on.skipped) == (
        [first.number],
        {rival.number: "This belongs to another merchant or store."},
    )
    assert (again.changed, again.skipped) == ([second.number], {})
    assert Card.objects.filter(pk__in=[first.pk, second.pk], is_active=True).count() == 2
    entries = AuditEntry.objects.order_by("id")
    assert [(e.action, e.object_id, e.merchant_id, e.reason) for e in entries] == [
        ("card_reactivated", str(first.pk), merchant.pk, ""),
        ("card_reactivated", str(second.pk), merchant.pk, "Found"),
    ]


def test_store_staff_may_not_change_cards_and_a_store_manager_only_their_stores(
    merchant, program, store, other_store
):
    from merchants.models import StaffMembership
    from tests.factories import StaffMembershipFactory

    clerk = UserFactory(is_staff=True)
    StaffMembershipFactory(user=clerk, merchant=merchant, role=StaffMembership.Role.STAFF)
    card = CardFactory(program=program, enrolled_store=other_store)

    refused = card_operations.deactivate_cards(cards=[card], reason="x", user=clerk)
    assert refused.skipped == {card.number: "Only owners and managers may do this."}
    elsewhere = card_operations.deactivate_cards(
        cards=[card], reason="x", user=_manager(merchant, store=store)
    )
    assert elsewhere.skipped == {card.number: "This belongs to another merchant or store."}
    assert Card.objects.get(pk=card.pk).is_active and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("points", "reason", "ids", "detail", "fields"),
    [
        (True, "x", "one", "Bonus points must be a whole number.", {"points": ["invalid"]}),
        (2.0, "x", "one", "Bonus points must be a whole number.", {"points": ["invalid"]}),
        (0, "x", "one", "Bonus points must be 1 to 1000000.", {"points": ["invalid"]}),
        (1_000_001, "x", "one", "Bonus points must be 1 to 1000000.", {"points": ["invalid"]}),
        (5, " ", "one", "A reason is required.", {"reason": ["required"]}),
        (5, None, "one", "A reason is required.", {"reason": ["required"]}),
        (5, "x", "none", "No cards were selected.", {"cards": ["required"]}),
    ],
)
def test_a_background_bonus_refuses_bad_input_and_records_no_job(
    operator, card, points, reason, ids, detail, fields
):
    from loyalty.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        bulk_bonus.start_bulk_bonus(
            merchant_id=card.program.merchant_id,
            card_ids={"one": [card.pk], "none": []}[ids],
            points=points,
            reason=reason,
            user=operator,
        )
    assert (refused.value.detail, refused.value.fields) == (detail, fields)
    assert not BulkBonusJob.objects.exists()


def test_a_background_bonus_records_its_job_and_queues_its_first_chunk(
    operator, program, store, django_capture_on_commit_callbacks
):
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    ids = [cards[2].pk, cards[0].pk, cards[1].pk]

    with django_capture_on_commit_callbacks() as callbacks:
        job = bulk_bonus.start_bulk_bonus(
            merchant_id=program.merchant_id,
            card_ids=ids,
            points=1_000_000,
            reason="  Launch ",
            user=operator,
        )

    job.refresh_from_db()
    assert (
        job.merchant_id,
        job.requested_by,
        job.points,
        job.reason,
        job.card_ids,
        job.total,
        job.processed,
        job.changed,
        job.skipped,
        job.status,
        job.finished_at,
    ) == (
        program.merchant_id,
        operator,
        1_000_000,
        "Launch",
        sorted(ids),
        3,
        0,
        0,
        {},
        "queued",
        None,
    )
    assert len(callbacks) == 1 and not Transaction.objects.exists()
    callbacks[0]()  # the task, run eagerly
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed) == ("done", 3, 3)
    assert job.finished_at is not None
    assert {c.points_balance for c in Card.objects.filter(pk__in=ids)} == {1_000_000}


def test_a_manager_may_not_start_a_bonus_for_another_merchant(merchant, rival_merchant):
    from merchants.access import NotAllowed

    with pytest.raises(NotAllowed):
        bulk_bonus.start_bulk_bonus(
            merchant_id=rival_merchant["merchant"].pk,
            card_ids=[rival_merchant["card"].pk],
            points=5,
            reason="x",
            user=_manager(merchant),
        )
    assert not BulkBonusJob.objects.exists()


def test_each_chunk_adds_its_skips_to_the_earlier_ones_and_the_last_finishes_the_job(
    program, store, rival_merchant, monkeypatch
):
    monkeypatch.setattr(bulk_bonus, "CHUNK_SIZE", 2)
    manager = _manager(program.merchant)
    inactive = CardFactory(program=program, enrolled_store=store, is_active=False)
    active = CardFactory(program=program, enrolled_store=store)
    later = CardFactory(program=program, enrolled_store=store)
    rival = rival_merchant["card"]
    # An earlier bonus with another reason does not count as this job's.
    ledger.adjust_points(card=later, points=4, reason="Promo (bulk bonus #0)")
    job = bulk_bonus.start_bulk_bonus(
        merchant_id=program.merchant_id,
        card_ids=[inactive.pk, active.pk, later.pk, rival.pk],
        points=5,
        reason="Promo",
        user=manager,
    )
    # In this order (the rival's card, made first by its fixture, sorts first otherwise).
    BulkBonusJob.objects.filter(pk=job.pk).update(
        card_ids=[inactive.pk, active.pk, later.pk, rival.pk]
    )

    assert bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk) is True
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed, job.finished_at) == ("running", 2, 1, None)
    assert job.skipped == {inactive.number: "The card is not active."}

    assert bulk_bonus.run_bulk_bonus_chunk(job_id=job.pk) is False
    job.refresh_from_db()
    assert (job.status, job.processed, job.changed) == ("done", 4, 2)
    assert job.finished_at is not None
    assert job.skipped == {
        inactive.number: "The card is not active.",
        "1 card(s)": "not found in this merchant, or already done",
    }
    rows = Transaction.objects.filter(reason=f"Promo (bulk bonus #{job.pk})").order_by("card_id")
    assert [(r.card_id, r.points_delta, r.acting_user, r.acting_admin) for r in rows] == [
        (active.pk, 5, manager, None),
        (later.pk, 5, manager, None),
    ]
    assert Card.objects.get(pk=later.pk).points_balance == 9
    assert Card.objects.get(pk=rival.pk).points_balance == 0


def test_a_background_bonus_of_one_point_is_accepted(operator, card):
    job = bulk_bonus.start_bulk_bonus(
        merchant_id=card.program.merchant_id,
        card_ids=[card.pk],
        points=1,
        reason="x",
        user=operator,
    )
    assert BulkBonusJob.objects.get(pk=job.pk).points == 1
