import datetime
import io
import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from loyalty.models import IdempotencyRecord, Transaction
from loyalty.services import ledger
from loyalty.services.idempotency import request_digest
from tests.api.conftest import STAFF_PIN, Terminal
from tests.factories import TerminalKeyFactory

EARN = {"points": 10, "staff_pin": STAFF_PIN}


def earn(terminal, card, body=EARN, key="sale-1"):
    return terminal.post(f"cards/{card.number}/points/earn/", body, idempotency_key=key)


def test_a_retry_replays_the_first_response_byte_for_byte(terminal, card):
    first = earn(terminal, card)
    again = earn(terminal, card)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert Transaction.objects.filter(card=card).count() == 1
    card.refresh_from_db()
    assert card.points_balance == 10


def test_the_same_key_with_another_body_is_refused(terminal, card):
    assert earn(terminal, card).status_code == 201
    response = earn(terminal, card, {"points": 11, "staff_pin": STAFF_PIN})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Transaction.objects.filter(card=card).count() == 1


def test_the_same_key_on_another_endpoint_is_refused(terminal, card):
    assert earn(terminal, card).status_code == 201
    response = terminal.post(f"cards/{card.number}/stamps/", EARN, idempotency_key="sale-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


def test_a_key_in_flight_answers_409_with_retry_after(terminal, card, terminal_key):
    # A claim without a response: the first request is still running.
    IdempotencyRecord.objects.create(
        terminal_key=terminal_key,
        key="sale-1",
        request_digest=_digest_of_first_request(terminal, card),
        claimed_at=timezone.now(),
    )
    response = earn(terminal, card)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert response["Retry-After"] == "1"
    assert not Transaction.objects.filter(card=card).exists()


def _digest_of_first_request(terminal, card):
    path = f"/api/v1/terminal/cards/{card.number}/points/earn/"
    return request_digest(method="POST", path=path, body=json.dumps(EARN).encode())


def test_a_claim_abandoned_by_a_dead_process_is_taken_over(terminal, card, terminal_key):
    IdempotencyRecord.objects.create(
        terminal_key=terminal_key,
        key="sale-1",
        request_digest="0" * 64,
        claimed_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    response = earn(terminal, card)
    assert response.status_code == 201
    assert Transaction.objects.filter(card=card).count() == 1


def test_a_stored_refusal_is_replayed(terminal, card):
    first = earn(terminal, card, {"points": 10, "staff_pin": "0000"})
    assert first.status_code == 403
    again = earn(terminal, card, {"points": 10, "staff_pin": "0000"})
    assert again.status_code == 403
    assert again.content == first.content
    # The replay did not count another wrong PIN.
    terminal.key.refresh_from_db()
    assert terminal.key.pin_failures == 1


def test_a_conflict_is_not_stored_so_a_retry_runs_again(terminal, card):
    body = {"points": 10, "staff_pin": STAFF_PIN}
    first = terminal.post(f"cards/{card.number}/points/redeem/", body, idempotency_key="r-1")
    assert first.status_code == 409
    assert first.json()["code"] == "insufficient_points"
    assert not IdempotencyRecord.objects.exists()
    ledger.earn_points(card=card, store=card.enrolled_store, points=10)
    again = terminal.post(f"cards/{card.number}/points/redeem/", body, idempotency_key="r-1")
    assert again.status_code == 201


def test_a_key_older_than_24_hours_is_forgotten(terminal, card):
    assert earn(terminal, card).status_code == 201
    IdempotencyRecord.objects.update(claimed_at=timezone.now() - datetime.timedelta(hours=25))
    assert earn(terminal, card).status_code == 201
    assert Transaction.objects.filter(card=card).count() == 2


def test_keys_are_scoped_to_the_terminal_key(terminal, card, store):
    other = Terminal(TerminalKeyFactory(store=store))
    assert earn(terminal, card).status_code == 201
    assert earn(other, card).status_code == 201
    assert Transaction.objects.filter(card=card).count() == 2


def test_requests_without_a_key_are_not_deduplicated(terminal, card):
    for _ in range(2):
        response = terminal.post(f"cards/{card.number}/points/earn/", EARN)
        assert response.status_code == 201
    assert Transaction.objects.filter(card=card).count() == 2
    assert not IdempotencyRecord.objects.exists()


def test_the_purge_command_deletes_expired_records(terminal, card):
    earn(terminal, card, key="old")
    earn(terminal, card, key="new")
    IdempotencyRecord.objects.filter(key="old").update(
        claimed_at=timezone.now() - datetime.timedelta(hours=25)
    )
    call_command("purge_idempotency_records", stdout=io.StringIO())
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_the_same_key_write_one_ledger_row(
    terminal_key, staff_pin, manager_pin, card
):
    barrier = threading.Barrier(4)
    statuses = []

    def send():
        try:
            terminal = Terminal(terminal_key)
            barrier.wait()
            statuses.append(earn(terminal, card).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Transaction.objects.filter(card=card).count() == 1
    assert 201 in statuses
    assert set(statuses) <= {201, 409}
    card.refresh_from_db()
    assert card.points_balance == 10
    # Once the first has finished, a retry replays it.
    assert earn(Terminal(terminal_key), card).status_code == 201
    assert Transaction.objects.filter(card=card).count() == 1
