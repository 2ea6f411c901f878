import datetime
import io
import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from loyalty.models import IdempotencyRecord, Transaction
from loyalty.services import ledger
from loyalty.services.idempotency import (
    claim_idempotency_key,
    record_response,
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


def _digest_of_first_request(terminal, card):
    path = f"/api/v1/terminal/cards/{card.number}/points/earn/"
    return request_digest(method="POST", path=path, body=json.dumps(EARN).encode())


def test_a_crash_leaves_nothing_behind_and_the_retry_runs(terminal, card, monkeypatch):
    def crash(**kwargs):
        raise RuntimeError("the process died mid-request")

    monkeypatch.setattr(ledger, "earn_points", crash)
    with pytest.raises(RuntimeError):
        earn(terminal, card)
    assert not IdempotencyRecord.objects.exists()
    monkeypatch.undo()
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


class KeyHeldElsewhere:
    """Another connection's transaction that has claimed the key and not yet committed."""

    def __init__(self, terminal_key, digest):
        self.terminal_key, self.digest = terminal_key, digest
        self.claimed, self.finish = threading.Event(), threading.Event()
        self.outcome = None
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        try:
            with transaction.atomic():
                claim = claim_idempotency_key(
                    terminal_key=self.terminal_key, key="sale-1", request_digest=self.digest
                )
                self.claimed.set()
                self.finish.wait(10)
                if self.outcome == "commit":
                    record_response(claim=claim, status=201, body='{"first": true}')
                else:
                    transaction.set_rollback(True)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.claimed.wait(10)
        return self

    def end(self, outcome):
        self.outcome = outcome
        self.finish.set()

    def __exit__(self, *exc):
        self.finish.set()
        self.thread.join()


def _earn_in_a_thread(terminal, card):
    answers = []

    def send():
        try:
            answers.append(earn(terminal, card))
        finally:
            connection.close()

    thread = threading.Thread(target=send)
    thread.start()
    return thread, answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("outcome", "status", "rows"), [("commit", 201, 0), ("rollback", 201, 1)])
def test_a_request_waits_for_the_key_then_replays_or_proceeds(
    terminal, card, terminal_key, outcome, status, rows
):
    with KeyHeldElsewhere(terminal_key, _digest_of_first_request(terminal, card)) as first:
        thread, answers = _earn_in_a_thread(terminal, card)
        _wait_for_a_lock_wait()
        first.end(outcome)
        thread.join()
    (response,) = answers
    assert response.status_code == status
    if outcome == "commit":
        # The first request's answer, replayed.
        assert response.content == b'{"first": true}'
    assert Transaction.objects.filter(card=card).count() == rows


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_key_held_past_the_lock_timeout_answers_409_with_retry_after(
    terminal, card, terminal_key
):
    with KeyHeldElsewhere(terminal_key, _digest_of_first_request(terminal, card)):
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        response = earn(terminal, card)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert response["Retry-After"] == "1"
    assert not Transaction.objects.filter(card=card).exists()


def _wait_for_a_lock_wait():
    for _ in range(500):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        threading.Event().wait(0.01)
    raise AssertionError("the request never waited on the key")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_keyed_earn_costs_one_database_transaction(terminal, card):
    def transactions_so_far():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                "WHERE datname = current_database()"
            )
            return cursor.fetchone()[0]

    earn(terminal, card, key="warm-up")  # the key's lookup is cached from here on
    before = transactions_so_far()
    for n in range(20):
        assert earn(terminal, card, key=f"sale-{n}").status_code == 201
    # Less the statistics' own: the read before, and the flush after.
    per_earn = (transactions_so_far() - before - 2) / 20
    assert 1 <= per_earn <= 1.3, per_earn
