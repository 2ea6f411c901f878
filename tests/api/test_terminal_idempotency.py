import datetime
import io
import json
import threading

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import IdempotencyRecord, Transaction
from loyalty.services import idempotency, ledger
from loyalty.services.idempotency import (
    ABANDONED_AFTER,
    StoredResponse,
    claim_idempotency_key,
    record_response,
    release_idempotency_key,
    request_digest,
)
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


AFTER_ABANDONMENT = ABANDONED_AFTER + datetime.timedelta(seconds=1)


def test_a_request_whose_claim_was_taken_over_can_record_nothing(terminal_key):
    started = timezone.now()
    with time_machine.travel(started, tick=False):
        slow = claim_idempotency_key(terminal_key=terminal_key, key="k", request_digest="d")
    with time_machine.travel(started + AFTER_ABANDONMENT, tick=False):
        retry = claim_idempotency_key(terminal_key=terminal_key, key="k", request_digest="d")
    assert isinstance(retry, IdempotencyRecord) and retry.pk == slow.pk
    assert record_response(claim=slow, status=201, body="slow") is False
    # Nor can the slow request give the retry's claim up.
    release_idempotency_key(claim=slow)
    assert record_response(claim=retry, status=201, body="retry") is True
    record = IdempotencyRecord.objects.get()
    assert (record.response_status, record.response_body) == (201, "retry")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_request_that_outlived_its_claim_writes_nothing(terminal, card, monkeypatch):
    earn_points = ledger.earn_points
    digest = _digest_of_first_request(terminal, card)

    def earn_after_the_client_retried(**kwargs):
        # The client gave this request up, and its retry, on another connection, took the
        # claim over.
        def retry():
            try:
                with time_machine.travel(timezone.now() + AFTER_ABANDONMENT, tick=False):
                    claim_idempotency_key(
                        terminal_key=terminal.key, key="sale-1", request_digest=digest
                    )
            finally:
                connection.close()

        thread = threading.Thread(target=retry)
        thread.start()
        thread.join()
        return earn_points(**kwargs)

    monkeypatch.setattr(ledger, "earn_points", earn_after_the_client_retried)
    response = earn(terminal, card)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert not Transaction.objects.filter(card=card).exists()
    # The retry's claim stands, for the retry to complete.
    assert IdempotencyRecord.objects.get().response_status is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_takeover_waiting_on_a_late_response_replays_it(terminal_key, monkeypatch):
    started = timezone.now()
    with time_machine.travel(started, tick=False):
        slow = claim_idempotency_key(terminal_key=terminal_key, key="k", request_digest="d")
    # The retry finds the key taken; before it reads the claim, the slow request records
    # its response, without committing yet.
    insert_claim = idempotency._insert_claim
    key_taken, response_recorded = threading.Event(), threading.Event()

    def insert_claim_then_pause(*args):
        claimed = insert_claim(*args)
        if claimed is None and not key_taken.is_set():
            key_taken.set()
            response_recorded.wait(10)
        return claimed

    monkeypatch.setattr(idempotency, "_insert_claim", insert_claim_then_pause)
    outcome = []

    def retry():
        try:
            outcome.append(
                claim_idempotency_key(terminal_key=terminal_key, key="k", request_digest="d")
            )
        finally:
            connection.close()

    with time_machine.travel(started + AFTER_ABANDONMENT, tick=False):
        thread = threading.Thread(target=retry)
        thread.start()
        assert key_taken.wait(10)
        with transaction.atomic():
            assert record_response(claim=slow, status=201, body="slow") is True
            response_recorded.set()
            # The retry read the claim as abandoned, and waits on its row to take it over.
            _wait_for_a_lock_wait()
        thread.join()
    assert outcome == [StoredResponse(status=201, body="slow")]


def _wait_for_a_lock_wait():
    for _ in range(500):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the retry never waited on the claim's row")
