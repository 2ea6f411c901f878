"""What the terminal API moves in `/metrics`: requests and their latency, ledger rows (after
the commit only, once per row however often a request is replayed), 429 answers and PIN
lockouts per store."""

import datetime

import pytest
import time_machine

from loyalty.services.staff_pins import PIN_MAX_FAILURES
from tests.api.conftest import STAFF_PIN
from tests.metrics_support import METRICS_TOKEN, scrape

pytestmark = pytest.mark.django_db

STORE = {"merchant": "alice-bakery", "store": "main"}
MID_MINUTE = datetime.datetime(2026, 6, 10, 12, 0, 30, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _metrics_token(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Runs what the test's transaction would run on commit, as a real commit does."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def earn(terminal, card, **extra):
    return terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 5, "staff_pin": STAFF_PIN}, **extra
    )


def test_an_earn_counts_its_request_its_latency_and_its_ledger_row(client, terminal, card, commit):
    before = scrape(client)

    with commit():
        response = earn(terminal, card)

    assert response.status_code == 201
    after = scrape(client)

    def moved(name, **labels):
        return after.value(name, **labels) - before.value(name, **labels)

    view = {"view": "terminal-card-earn", "method": "POST"}
    assert moved("loyalty_transactions_total", type="points_earned", **STORE) == 1
    assert moved("loyalty_http_requests_total", status="201", **view) == 1
    assert moved("loyalty_http_request_duration_seconds_count", **view) == 1
    assert moved("loyalty_http_request_duration_seconds_bucket", le="+Inf", **view) == 1
    assert moved("loyalty_points_issued_total", merchant="alice-bakery") == 5


def test_a_replayed_request_and_a_refusal_write_no_ledger_row_and_count_none(
    client, terminal, card, commit
):
    with commit():
        earn(terminal, card, idempotency_key="till-1-sale-9")
    before = scrape(client)

    with commit():
        replay = earn(terminal, card, idempotency_key="till-1-sale-9")
        refusal = terminal.post(
            f"cards/{card.number}/points/redeem/", {"points": 999, "staff_pin": STAFF_PIN}
        )

    assert (replay.status_code, refusal.status_code) == (201, 409)
    after = scrape(client)
    for kind in ["points_earned", "points_redeemed"]:
        labels = {"type": kind, **STORE}
        assert after.value("loyalty_transactions_total", **labels) == before.value(
            "loyalty_transactions_total", **labels
        )


def test_a_terminal_enrolment_with_a_welcome_bonus_counts_its_bonus_row(
    client, terminal, program, commit
):
    program.welcome_bonus_points = 20
    program.save(update_fields=["welcome_bonus_points"])
    before = scrape(client)

    with commit():
        response = terminal.post(
            "enrollments/",
            {
                "email": "ana@example.com",
                "first_name": "Ana",
                "last_name": "Silva",
                "staff_pin": STAFF_PIN,
            },
        )

    assert response.status_code == 201
    labels = {"type": "welcome_bonus", **STORE}
    after = scrape(client)
    assert after.value("loyalty_transactions_total", **labels) == (
        before.value("loyalty_transactions_total", **labels) + 1
    )
    assert after.value("loyalty_enrolments_total", merchant="alice-bakery") == (
        before.value("loyalty_enrolments_total", merchant="alice-bakery") + 1
    )


def test_a_429_counts_against_its_store(client, terminal, card, settings, commit):
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "earn": "2/m"}
    before = scrape(client)

    with time_machine.travel(MID_MINUTE, tick=False), commit():
        answers = [earn(terminal, card).status_code for _ in range(4)]

    assert answers == [201, 201, 429, 429]
    after = scrape(client)
    assert after.value("loyalty_rate_limited_total", **STORE) == (
        before.value("loyalty_rate_limited_total", **STORE) + 2
    )
    view = {"view": "terminal-card-earn", "method": "POST", "status": "429"}
    assert after.value("loyalty_http_requests_total", **view) == (
        before.value("loyalty_http_requests_total", **view) + 2
    )


def test_a_pin_lockout_counts_once_against_its_store(client, terminal, card, commit):
    before = scrape(client)

    with commit():
        answers = [
            terminal.post(
                f"cards/{card.number}/points/earn/", {"points": 5, "staff_pin": "0000"}
            ).json()["code"]
            for _ in range(PIN_MAX_FAILURES + 1)
        ]

    assert answers == ["pin_invalid"] * (PIN_MAX_FAILURES - 1) + ["pin_locked"] * 2
    after = scrape(client)
    assert after.value("loyalty_pin_lockouts_total", **STORE) == (
        before.value("loyalty_pin_lockouts_total", **STORE) + 1
    )


def test_a_path_no_url_matches_counts_as_unmatched(client):
    before = scrape(client)

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    labels = {"view": "unmatched", "method": "GET", "status": "404"}
    after = scrape(client)
    assert after.value("loyalty_http_requests_total", **labels) == (
        before.value("loyalty_http_requests_total", **labels) + 1
    )


def test_a_method_no_client_should_send_counts_as_other(client):
    before = scrape(client)

    response = client.generic("BREW-COFFEE", "/no/such/page/")

    assert response.status_code == 404
    labels = {"view": "unmatched", "method": "other", "status": "404"}
    after = scrape(client)
    assert after.value("loyalty_http_requests_total", **labels) == (
        before.value("loyalty_http_requests_total", **labels) + 1
    )
    assert "BREW-COFFEE" not in after.text
