"""The idempotency service on its own: which record a claim reads, the 24-hour boundary,
what a takeover stores, which responses are kept."""

import datetime

import pytest
import time_machine

from loyalty.errors import IdempotencyKeyReused
from loyalty.models import IdempotencyRecord
from loyalty.services.idempotency import (
    RETENTION,
    StoredResponse,
    claim_idempotency_key,
    record_response,
    request_digest,
)
from tests.factories import TerminalKeyFactory

CLAIMED_AT = datetime.datetime(2026, 3, 2, 10, 0, tzinfo=datetime.UTC)


def claim(terminal_key, key="k", digest="d1", at=CLAIMED_AT):
    with time_machine.travel(at, tick=False):
        return claim_idempotency_key(terminal_key=terminal_key, key=key, request_digest=digest)


def answered(terminal_key, key="k", digest="d1", status=201, body="{}", at=CLAIMED_AT):
    record = claim(terminal_key, key, digest, at)
    record_response(claim=record, status=status, body=body)
    return record


def stored(record) -> dict:
    return IdempotencyRecord.objects.filter(pk=record.pk).values(
        "request_digest", "response_status", "response_body", "claimed_at"
    )[0]


def test_the_digest_of_a_request_does_not_change_between_releases():
    # Records written by the previous release must still match the same request.
    assert request_digest(method="POST", path="/p/", body=b"{}") == (
        "b6cb4df2f3edfcdd82794691679aca26d8b4691e50c5d2e3539edfb31556dbcc"
    )


def test_each_terminal_key_reads_its_own_record_of_a_key(store):
    first, second = TerminalKeyFactory(store=store), TerminalKeyFactory(store=store)
    answered(first, digest="d-first", body='{"n": 1}')
    answered(second, digest="d-second", body='{"n": 2}')
    answered(second, key="other", digest="d-other", body='{"n": 3}')

    assert claim(second, digest="d-second") == StoredResponse(status=201, body='{"n": 2}')


@pytest.mark.parametrize(
    ("age", "taken_over"),
    [(RETENTION, True), (RETENTION - datetime.timedelta(seconds=1), False)],
    ids=["24h", "24h-less-1s"],
)
def test_a_record_is_taken_over_from_exactly_its_age_limit(store, age, taken_over):
    terminal_key = TerminalKeyFactory(store=store)
    first = answered(terminal_key)
    if taken_over:
        again = claim(terminal_key, digest="d2", at=CLAIMED_AT + age)
        assert isinstance(again, IdempotencyRecord) and again.pk == first.pk
    else:
        assert claim(terminal_key, at=CLAIMED_AT + age) == StoredResponse(status=201, body="{}")
        with pytest.raises(IdempotencyKeyReused):
            claim(terminal_key, digest="d2", at=CLAIMED_AT + age)


def test_a_new_claim_is_stored_without_a_response(store):
    terminal_key = TerminalKeyFactory(store=store)
    record = claim(terminal_key)
    assert stored(record) == {
        "request_digest": "d1",
        "response_status": None,
        "response_body": "",
        "claimed_at": CLAIMED_AT,
    }


def test_a_takeover_stores_and_returns_the_new_claim(store):
    terminal_key = TerminalKeyFactory(store=store)
    answered(terminal_key, body='{"old": true}')
    neighbour = answered(terminal_key, key="neighbour", body='{"kept": true}')
    later = CLAIMED_AT + RETENTION

    again = claim(terminal_key, digest="d2", at=later)

    expected = {
        "request_digest": "d2",
        "response_status": None,
        "response_body": "",
        "claimed_at": later,
    }
    assert stored(again) == expected
    assert {name: getattr(again, name) for name in expected} == expected
    assert stored(neighbour)["response_body"] == '{"kept": true}'


@pytest.mark.parametrize("status", [409, 429, 500, 503])
def test_a_response_meant_to_be_retried_gives_the_key_up(store, status):
    terminal_key = TerminalKeyFactory(store=store)
    record = claim(terminal_key)
    record_response(claim=record, status=status, body="{}")
    assert not IdempotencyRecord.objects.exists()


def test_a_400_is_kept_for_replays(store):
    terminal_key = TerminalKeyFactory(store=store)
    record = claim(terminal_key)
    record_response(claim=record, status=499, body='{"code": "x"}')
    assert stored(record)["response_status"] == 499
