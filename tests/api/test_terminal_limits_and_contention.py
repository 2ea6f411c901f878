import datetime
import threading
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.db import OperationalError, connection, transaction

from loyalty.models import Card, Transaction
from loyalty.services import contention
from tests.api.conftest import STAFF_PIN, Terminal
from tests.factories import TerminalKeyFactory

MID_MINUTE = datetime.datetime(2026, 6, 10, 12, 0, 30, tzinfo=datetime.UTC)

# (rate-limit scope, method, path) for every capped endpoint.
CAPPED = [
    ("read", "get", "cards/{number}/"),
    ("read", "get", "cards/{number}/transactions/"),
    ("program", "get", "program/"),
    ("enroll", "post", "enrollments/"),
    ("earn", "post", "cards/{number}/points/earn/"),
    ("redeem", "post", "cards/{number}/points/redeem/"),
    ("adjust", "post", "cards/{number}/points/adjust/"),
    ("stamps", "post", "cards/{number}/stamps/"),
    ("stamps_redeem", "post", "cards/{number}/stamps/redeem/"),
    ("void", "post", "transactions/1/void/"),
    ("unlock", "post", "pins/1/unlock/"),
]


def test_the_caps_are_those_of_the_design():
    assert settings.TERMINAL_RATE_LIMITS == {
        "read": "300/m",
        "program": "30/m",
        "enroll": "10/m",
        "earn": "60/m",
        "stamps": "60/m",
        "redeem": "30/m",
        "stamps_redeem": "30/m",
        "void": "20/m",
        "adjust": "20/m",
        "unlock": "10/m",
    }


def call(terminal, method, path):
    return terminal.get(path) if method == "get" else terminal.post(path, {})


@pytest.mark.parametrize(("scope", "method", "path"), CAPPED)
def test_exceeding_a_cap_answers_429_with_retry_after(terminal, card, scope, method, path):
    cap = int(settings.TERMINAL_RATE_LIMITS[scope].split("/")[0])
    path = path.format(number=card.number)
    # Counts are kept per clock minute: all the calls go in one, however long they take.
    with time_machine.travel(MID_MINUTE, tick=False):
        for _ in range(cap):
            assert call(terminal, method, path).status_code != 429
        response = call(terminal, method, path)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_card_and_ledger_reads_share_one_cap(terminal, card, settings):
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "read": "2/m"}
    with time_machine.travel(MID_MINUTE, tick=False):
        assert terminal.get(f"cards/{card.number}/").status_code == 200
        assert terminal.get(f"cards/{card.number}/transactions/").status_code == 200
        response = terminal.get(f"cards/{card.number}/")
    assert (response.status_code, response.json()["code"]) == (429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_caps_are_per_terminal_key(terminal, card, store, settings):
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "earn": "1/m"}
    path = f"cards/{card.number}/points/earn/"
    body = {"points": 1, "staff_pin": STAFF_PIN}
    assert terminal.post(path, body).status_code == 201
    assert terminal.post(path, body).status_code == 429
    assert Terminal(TerminalKeyFactory(store=store)).post(path, body).status_code == 201


def test_a_limited_request_changes_nothing(terminal, card, settings):
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "earn": "1/m"}
    path = f"cards/{card.number}/points/earn/"
    terminal.post(path, {"points": 1, "staff_pin": STAFF_PIN})
    terminal.post(path, {"points": 5, "staff_pin": STAFF_PIN}, idempotency_key="k")
    card.refresh_from_db()
    assert card.points_balance == 1


def test_limiting_can_be_turned_off(terminal, card, settings):
    settings.RATELIMIT_ENABLE = False
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "earn": "1/m"}
    path = f"cards/{card.number}/points/earn/"
    for _ in range(3):
        assert terminal.post(path, {"points": 1, "staff_pin": STAFF_PIN}).status_code == 201


def _lock_timeout() -> OperationalError:
    error = OperationalError("canceling statement due to lock timeout")
    error.__cause__ = type("LockNotAvailable", (Exception,), {"sqlstate": "55P03"})()
    return error


def test_lock_contention_is_retried_then_answered_503_busy(terminal, card):
    with (
        mock.patch("loyalty.services.ledger.lock_card", side_effect=_lock_timeout()) as lock_card,
        mock.patch("loyalty.services.contention.time.sleep"),
    ):
        response = terminal.post(
            f"cards/{card.number}/points/earn/",
            {"points": 1, "staff_pin": STAFF_PIN},
            idempotency_key="k",
        )
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response["Retry-After"] == "1"
    assert lock_card.call_count == contention.ATTEMPTS
    # Not kept: the retry runs.
    again = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"points": 1, "staff_pin": STAFF_PIN},
        idempotency_key="k",
    )
    assert again.status_code == 201


def test_contention_that_clears_is_invisible(terminal, card):
    real_lock_card = __import__("loyalty.services.ledger", fromlist=["lock_card"]).lock_card
    outcomes = iter([_lock_timeout(), None])

    def flaky(card_id):
        error = next(outcomes)
        if error:
            raise error
        return real_lock_card(card_id)

    with mock.patch("loyalty.services.ledger.lock_card", side_effect=flaky):
        response = terminal.post(
            f"cards/{card.number}/points/earn/", {"points": 1, "staff_pin": STAFF_PIN}
        )
    assert response.status_code == 201
    assert Transaction.objects.filter(card=card).count() == 1


def test_other_database_errors_are_not_mistaken_for_contention(db):
    with pytest.raises(OperationalError):
        contention.run_in_transaction(mock.Mock(side_effect=OperationalError("disk full")))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_card_locked_too_long_answers_503_busy_not_500(terminal_key, staff_pin, card):
    locked = threading.Event()
    release = threading.Event()

    def hold_the_card():
        try:
            with transaction.atomic():
                Card.objects.select_for_update().get(pk=card.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_card)
    holder.start()
    try:
        assert locked.wait(5)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '50ms'")
        response = Terminal(terminal_key).post(
            f"cards/{card.number}/points/earn/", {"points": 1, "staff_pin": STAFF_PIN}
        )
    finally:
        release.set()
        holder.join()
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response["Retry-After"] == "1"
    assert not Transaction.objects.filter(card=card).exists()


def test_a_lock_timeout_outside_the_ledger_transaction_is_503_busy(terminal, card):
    with mock.patch(
        "loyalty.services.staff_pins._count_terminal_failure", side_effect=_lock_timeout()
    ):
        response = terminal.post(
            f"cards/{card.number}/points/earn/", {"points": 1, "staff_pin": "0000"}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "busy"
    assert response["Retry-After"] == "1"
