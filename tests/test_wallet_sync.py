"""Wallet passes against a fake Google (token endpoint and Wallet API) over real HTTP on
127.0.0.1: creating the class and the object, 409 then patch, the backoff (its sleep
injected), failures that are not retried, the periodic sync's batches and its record, the
push after an earn's commit (and none after a rollback), expiry, and `sync_wallet`."""

import datetime
import logging

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.models import Card, TaskRun, WalletClass, WalletPass
from loyalty.services import ledger
from loyalty.services.expiry import expire_points
from loyalty.tasks import sync_wallet_passes
from loyalty.wallet import passes, services
from loyalty.wallet.client import WalletClient
from tests.api.conftest import STAFF_PIN, Terminal
from tests.conftest import WALLET_ISSUER_ID
from tests.factories import CardFactory, StaffPinFactory, TerminalKeyFactory

pytestmark = pytest.mark.django_db

State = Card.WalletPassState


def object_id(card: Card) -> str:
    return f"{WALLET_ISSUER_ID}.card-{card.number}"


def class_id(card: Card) -> str:
    return f"{WALLET_ISSUER_ID}.program-{card.program_id}"


def state(card: Card) -> str:
    return Card.all_objects.values_list("wallet_pass_state", flat=True).get(pk=card.pk)


def pass_of(card: Card) -> WalletPass:
    return WalletPass.objects.get(pk=card.pk)


@pytest.fixture
def with_pass(google_wallet, django_capture_on_commit_callbacks):
    """Give a card a pass as the customer's click does, pushed after the commit; then start
    the fake's record afresh."""

    def give(card: Card) -> Card:
        with django_capture_on_commit_callbacks(execute=True):
            services.request_pass(card=card)
        assert state(card) == State.SYNCED
        google_wallet.requests.clear()
        return card

    return give


def test_the_first_push_creates_the_class_and_the_object(
    google_wallet, card, django_capture_on_commit_callbacks
):
    ledger.earn_points(card=card, store=None, points=120)
    ledger.add_stamps(card=card, store=None, count=3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.request_pass(card=card)
        assert state(card) == State.STALE
        assert google_wallet.requests == []

    assert len(callbacks) == 1
    assert [r.path for r in google_wallet.requests][0] == "/token"
    assert all(r.authorization.startswith("Bearer ") for r in google_wallet.requests[1:])
    assert google_wallet.api_requests() == [
        ("POST", class_id(card)),
        ("POST", object_id(card)),
    ]
    assert google_wallet.resources["loyaltyClass"][class_id(card)] == {
        "id": class_id(card),
        "issuerName": "Alice's Bakery",
        "programName": "Rewards",
        "programLogo": {
            "sourceUri": {"uri": "http://127.0.0.1:8000/static/loyalty/wallet-logo.png"},
            "contentDescription": {
                "defaultValue": {"language": "en", "value": "Alice's Bakery logo"}
            },
        },
        "hexBackgroundColor": "#1f4e5f",
        "reviewStatus": "UNDER_REVIEW",
    }
    number = f"{card.number[:4]} {card.number[4:8]} {card.number[8:]}"
    assert google_wallet.resources["loyaltyObject"][object_id(card)] == {
        "id": object_id(card),
        "classId": class_id(card),
        "state": "ACTIVE",
        "accountId": number,
        "accountName": card.customer.first_name,
        "barcode": {"type": "QR_CODE", "value": card.number, "alternateText": number},
        "loyaltyPoints": {"label": "Points", "balance": {"int": 120}},
        "textModulesData": [{"id": "stamps", "header": "Stamps", "body": "3 of 5"}],
    }
    wallet_pass = pass_of(card)
    assert state(card) == State.SYNCED
    assert wallet_pass.inserted_at is not None
    assert wallet_pass.synced_at is not None
    assert (wallet_pass.failed_runs, wallet_pass.last_error) == (0, "")
    assert WalletClass.objects.get(program=card.program).class_id == class_id(card)


def test_a_second_request_for_the_pass_changes_nothing(with_pass, google_wallet, card):
    with_pass(card)
    requested_at = pass_of(card).requested_at

    services.request_pass(card=card)

    assert pass_of(card).requested_at == requested_at
    assert state(card) == State.SYNCED
    assert google_wallet.requests == []


def test_a_409_on_create_means_it_exists_so_it_is_patched(google_wallet, card):
    google_wallet.resources["loyaltyObject"][object_id(card)] = {
        "id": object_id(card),
        "loyaltyPoints": {"label": "Points", "balance": {"int": 999}},
    }
    google_wallet.resources["loyaltyClass"][class_id(card)] = {"id": class_id(card)}
    services.request_pass(card=card)

    assert services.push_pass(card_id=card.pk) is True

    assert google_wallet.api_requests() == [
        ("POST", class_id(card)),
        ("PATCH", class_id(card)),
        ("POST", object_id(card)),
        ("PATCH", object_id(card)),
    ]
    stored = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert stored["loyaltyPoints"] == {"label": "Points", "balance": {"int": 0}}
    assert stored["classId"] == class_id(card)
    assert state(card) == State.SYNCED


def test_later_pushes_patch_the_object_and_leave_an_unchanged_class_alone(
    with_pass, google_wallet, card
):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=15)
    assert state(card) == State.STALE

    assert services.push_pass(card_id=card.pk) is True

    assert google_wallet.api_requests() == [("PATCH", object_id(card))]
    stored = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert stored["loyaltyPoints"]["balance"] == {"int": 15}


def test_a_changed_programme_pushes_its_class_again(with_pass, google_wallet, card):
    with_pass(card)
    card.program.name = "Bread club"
    card.program.wallet_background_color = "#aa3300"
    card.program.save()
    Card.all_objects.filter(pk=card.pk).update(wallet_pass_state=State.STALE)

    services.push_pass(card_id=card.pk)

    assert google_wallet.api_requests() == [
        ("PATCH", class_id(card)),
        ("PATCH", object_id(card)),
    ]
    stored = google_wallet.resources["loyaltyClass"][class_id(card)]
    assert (stored["programName"], stored["hexBackgroundColor"]) == ("Bread club", "#aa3300")


def test_500_twice_then_success_waits_1_then_4_seconds(with_pass, google_wallet, card):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(500, match="card-", times=2)
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is True

    assert sleeps == [1, 4]
    assert google_wallet.api_requests() == [("PATCH", object_id(card))] * 3
    assert state(card) == State.SYNCED


def test_a_server_error_every_time_gives_up_after_1_4_and_16_seconds(
    with_pass, google_wallet, card
):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(503, match="card-", times=None)
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is False

    assert sleeps == [1, 4, 16]
    assert len(google_wallet.api_requests()) == 4
    assert state(card) == State.STALE
    wallet_pass = pass_of(card)
    assert "answered 503: Scripted failure (after 3 retries)" in wallet_pass.last_error
    assert wallet_pass.last_failed_at is not None
    # A push after a commit is not a sync run: only runs count towards "failing".
    assert wallet_pass.failed_runs == 0


def test_a_network_failure_is_retried_like_a_server_error(with_pass, google_wallet, card, settings):
    with_pass(card)
    # Nothing listens on port 1.
    settings.GOOGLE_WALLET_API_URL = "http://127.0.0.1:1/walletobjects/v1"
    sleeps = []
    Card.all_objects.filter(pk=card.pk).update(wallet_pass_state=State.STALE)

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is False

    assert sleeps == [1, 4, 16]
    assert "Connection refused" in pass_of(card).last_error


@pytest.mark.parametrize("retry_after", ["7", "0"])
def test_429_waits_its_retry_after_instead_of_the_backoff(
    with_pass, google_wallet, card, retry_after
):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(429, match="card-", headers={"Retry-After": retry_after})
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is True

    assert sleeps == [float(retry_after)]
    assert google_wallet.api_requests() == [("PATCH", object_id(card))] * 2


def test_429_without_retry_after_follows_the_backoff(with_pass, google_wallet, card):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(429, match="card-", times=2)
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is True

    assert sleeps == [1, 4]


def test_a_retry_after_beyond_a_minute_leaves_the_pass_for_the_next_sync(
    with_pass, google_wallet, card
):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(429, match="card-", headers={"Retry-After": "3600"})
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is False

    assert sleeps == []
    assert len(google_wallet.api_requests()) == 1
    assert state(card) == State.STALE
    assert "Retry-After 3600 s: left for the next sync" in pass_of(card).last_error


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_client_errors_are_not_retried(with_pass, google_wallet, card, status):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=7)
    google_wallet.fail(status, match="card-")
    sleeps = []

    assert services.push_pass(card_id=card.pk, sleep=sleeps.append) is False

    assert sleeps == []
    assert google_wallet.api_requests() == [("PATCH", object_id(card))]
    assert state(card) == State.STALE
    assert f"answered {status}: Scripted failure" in pass_of(card).last_error


def test_an_object_gone_at_google_is_inserted_again_on_the_next_push(
    with_pass, google_wallet, card
):
    with_pass(card)
    del google_wallet.resources["loyaltyObject"][object_id(card)]
    ledger.earn_points(card=card, store=None, points=7)

    assert services.push_pass(card_id=card.pk) is False
    assert pass_of(card).inserted_at is None
    assert services.push_pass(card_id=card.pk) is True

    assert google_wallet.api_requests() == [
        ("PATCH", object_id(card)),
        ("POST", object_id(card)),
    ]
    assert google_wallet.resources["loyaltyObject"][object_id(card)]["loyaltyPoints"] == {
        "label": "Points",
        "balance": {"int": 7},
    }


class EarningSession:
    """A session that lets an earn land while the push is on its way to Google."""

    def __init__(self, session, card):
        self.session = session
        self.card = card

    def request(self, method, url, **kwargs):
        if method == "PATCH" and "card-" in url:
            ledger.earn_points(card=self.card, store=None, points=5)
        return self.session.request(method, url, **kwargs)


def test_a_change_during_the_push_keeps_the_pass_stale(with_pass, google_wallet, card, settings):
    with_pass(card)
    ledger.earn_points(card=card, store=None, points=10)
    client = WalletClient.from_settings()
    client.session = EarningSession(client.session, card)

    assert services._Pusher(client).push(card.pk) == ""

    sent = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert sent["loyaltyPoints"]["balance"] == {"int": 10}
    assert state(card) == State.STALE
    assert services.push_pass(card_id=card.pk) is True
    sent = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert sent["loyaltyPoints"]["balance"] == {"int": 15}
    assert state(card) == State.SYNCED


def test_a_sync_batch_with_one_permanently_failing_card(
    with_pass, google_wallet, program, store, caplog, settings
):
    cards = [with_pass(CardFactory(program=program, enrolled_store=store)) for _ in range(3)]
    broken = cards[1]
    for card in cards:
        ledger.earn_points(card=card, store=None, points=20)
    google_wallet.requests.clear()
    google_wallet.fail(400, match=broken.number, times=None)
    settings.CELERY_TASK_EAGER_PROPAGATES = True

    for run in range(1, 4):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="loyalty.wallet.services"):
            sync_wallet_passes.delay()
        record = TaskRun.objects.filter(task="loyalty.sync_wallet_passes").first()
        assert (record.status, record.scope) == (TaskRun.Status.SUCCEEDED, "")
        assert record.counts == {
            "pushed": 2 if run == 1 else 0,
            "failed": 1,
            "failed_card_ids": [broken.pk],
        }
        assert pass_of(broken).failed_runs == run
        levels = [r.levelname for r in caplog.records if str(broken.pk) in r.getMessage()]
        assert levels == (["ERROR"] if run == 3 else ["WARNING"])

    assert [state(card) for card in cards] == [State.SYNCED, State.STALE, State.SYNCED]
    for card in (cards[0], cards[2]):
        stored = google_wallet.resources["loyaltyObject"][object_id(card)]
        assert stored["loyaltyPoints"]["balance"] == {"int": 20}
    assert (
        f"wallet_sync_exhausted merchant=alice-bakery card_id={broken.pk} http_status=400 "
        "failed_runs=3"
    ) in caplog.text

    google_wallet.failures.clear()
    sync_wallet_passes.delay()
    assert TaskRun.objects.filter(task="loyalty.sync_wallet_passes").first().counts == {
        "pushed": 1,
        "failed": 0,
        "failed_card_ids": [],
    }
    assert (pass_of(broken).failed_runs, pass_of(broken).last_error) == (0, "")
    assert state(broken) == State.SYNCED


def test_the_sync_walks_every_stale_pass_in_batches(
    with_pass, google_wallet, program, store, monkeypatch
):
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    cards = [with_pass(CardFactory(program=program, enrolled_store=store)) for _ in range(5)]
    Card.all_objects.filter(pk__in=[c.pk for c in cards[:4]]).update(wallet_pass_state=State.STALE)

    counts = services.sync_stale_passes()

    assert counts.as_dict() == {"pushed": 4, "failed": 0, "failed_card_ids": []}
    assert google_wallet.api_requests() == [("PATCH", object_id(c)) for c in cards[:4]]


def test_a_sync_with_a_broken_key_file_fails_its_run_with_the_reason(
    google_wallet, settings, tmp_path
):
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(tmp_path / "gone.json")

    with pytest.raises(Exception, match="gone.json does not exist"):
        sync_wallet_passes.delay()

    record = TaskRun.objects.get(task="loyalty.sync_wallet_passes")
    assert record.status == TaskRun.Status.FAILED
    assert "gone.json does not exist" in record.error


@pytest.fixture
def terminal(store):
    StaffPinFactory(store=store, staff_name="Sam", pin=STAFF_PIN)
    return Terminal(TerminalKeyFactory(store=store))


@pytest.mark.django_db(transaction=True)
def test_an_earn_through_the_terminal_api_pushes_the_pass_after_its_commit(
    google_wallet, card, terminal
):
    services.request_pass(card=card)
    assert state(card) == State.SYNCED
    google_wallet.requests.clear()

    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 42, "staff_pin": STAFF_PIN}
    )

    assert response.status_code == 201
    assert google_wallet.api_requests() == [("PATCH", object_id(card))]
    stored = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert stored["loyaltyPoints"]["balance"] == {"int": 42}
    assert state(card) == State.SYNCED


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_earn_pushes_nothing(google_wallet, card):
    services.request_pass(card=card)
    google_wallet.requests.clear()

    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.earn_points(card=card, store=None, points=42)
        assert state(card) == State.STALE
        raise RuntimeError("the caller fails after the earn")

    assert google_wallet.requests == []
    assert state(card) == State.SYNCED
    stored = google_wallet.resources["loyaltyObject"][object_id(card)]
    assert stored["loyaltyPoints"]["balance"] == {"int": 0}


def test_the_stale_mark_rides_on_the_cards_own_update(with_pass, card, program, store):
    """A card without a pass costs no query more; one with a pass is marked in the same
    UPDATE of the card row."""
    plain = CardFactory(program=program, enrolled_store=store)
    with_pass(card)

    def earn_queries(target: Card) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            ledger.earn_points(card=target, store=None, points=3)
        return [q["sql"] for q in queries.captured_queries]

    plain_queries = earn_queries(plain)
    pass_queries = earn_queries(card)

    assert len(pass_queries) == len(plain_queries)
    updates = [sql for sql in pass_queries if sql.startswith('UPDATE "loyalty_card"')]
    assert len(updates) == 1 and '"wallet_pass_state"' in updates[0]
    assert not any('"wallet_pass_state" =' in sql for sql in plain_queries)
    assert (state(plain), state(card)) == (State.NONE, State.STALE)


def test_with_the_wallet_off_a_change_queues_no_push(
    with_pass, card, settings, google_wallet, django_capture_on_commit_callbacks
):
    with_pass(card)
    settings.GOOGLE_WALLET_ISSUER_ID = ""

    with django_capture_on_commit_callbacks(execute=True):
        ledger.earn_points(card=card, store=None, points=3)

    assert google_wallet.requests == []
    assert state(card) == State.STALE


def test_expiry_marks_passes_stale_in_its_own_update(with_pass, program, store, google_wallet):
    program.points_expiration_days = 30
    program.save()
    with_card, without = (CardFactory(program=program, enrolled_store=store) for _ in range(2))
    with_pass(with_card)
    earned_at = datetime.datetime(2026, 1, 10, tzinfo=datetime.UTC)
    for card in (with_card, without):
        ledger.earn_points(card=card, store=None, points=50)
        Card.all_objects.filter(pk=card.pk).update(last_activity_at=earned_at)
    Card.all_objects.filter(pk=with_card.pk).update(wallet_pass_state=State.SYNCED)

    counts = expire_points(now=earned_at + datetime.timedelta(days=31))

    assert counts.cards == 2
    assert (state(with_card), state(without)) == (State.STALE, State.NONE)
    services.sync_stale_passes()
    stored = google_wallet.resources["loyaltyObject"][object_id(with_card)]
    assert stored["loyaltyPoints"]["balance"] == {"int": 0}


def test_an_inactive_card_shows_as_an_inactive_pass(with_pass, google_wallet, card):
    with_pass(card)
    Card.all_objects.filter(pk=card.pk).update(is_active=False, wallet_pass_state=State.STALE)

    services.sync_stale_passes()

    assert google_wallet.resources["loyaltyObject"][object_id(card)]["state"] == "INACTIVE"


def test_a_stamps_only_programme_shows_no_points(card):
    card.program.kind = card.program.Kind.STAMPS
    resource = passes.loyalty_object(WALLET_ISSUER_ID, card)
    assert "loyaltyPoints" not in resource
    assert resource["textModulesData"][0]["body"] == "0 of 5"


def test_sync_wallet_for_a_card_pushes_it_again_whatever_its_state(
    with_pass, google_wallet, card, program, store
):
    other = with_pass(CardFactory(program=program, enrolled_store=store))
    with_pass(card)

    call_command("sync_wallet", "--card", card.number)

    assert google_wallet.api_requests() == [
        ("PATCH", class_id(card)),
        ("PATCH", object_id(card)),
    ]
    record = TaskRun.objects.get(task="loyalty.sync_wallet_passes")
    assert (record.scope, record.counts["pushed"]) == (f"card {card.number}", 1)
    assert state(other) == State.SYNCED


def test_sync_wallet_for_a_merchant_pushes_each_of_its_passes(
    with_pass, google_wallet, card, program, store, rival_merchant
):
    other = with_pass(CardFactory(program=program, enrolled_store=store))
    with_pass(card)
    with_pass(rival_merchant["card"])

    call_command("sync_wallet", "--merchant", "alice-bakery")

    assert sorted(google_wallet.api_requests("loyaltyObject")) == sorted(
        [("PATCH", object_id(card)), ("PATCH", object_id(other))]
    )


def test_sync_wallet_reports_failures_and_refuses_bad_targets(
    with_pass, google_wallet, card, program, store
):
    plain = CardFactory(program=program, enrolled_store=store)
    with_pass(card)
    google_wallet.fail(400, match="card-")

    with pytest.raises(CommandError, match=rf"Pushed 0 passes; 1 failed \(card ids: {card.pk}\)"):
        call_command("sync_wallet", "--card", card.number)
    with pytest.raises(CommandError, match="has no Google Wallet pass"):
        call_command("sync_wallet", "--card", plain.number)
    with pytest.raises(CommandError, match="Unknown card: 000"):
        call_command("sync_wallet", "--card", "000")
    with pytest.raises(CommandError, match="Unknown merchant: nobody"):
        call_command("sync_wallet", "--merchant", "nobody")
    with pytest.raises(CommandError, match="one of the arguments --card --merchant"):
        call_command("sync_wallet")


def test_sync_wallet_refuses_to_run_with_the_wallet_off(settings):
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    with pytest.raises(CommandError, match="GOOGLE_WALLET_ISSUER_ID is not set"):
        call_command("sync_wallet", "--merchant", "alice-bakery")
