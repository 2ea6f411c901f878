"""Logs: the log events of the services, one JSON object per line with their fields, the
request id (incoming, made, echoed, carried into records and tasks), and what is never
logged: a run of the main flows is scanned for personal data and secrets.

`json_log` reads what the configured console handler writes (its real filters), with the
JSON formatter that LOG_FORMAT=json gives it."""

import datetime
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.logs import REQUEST_ID_HEADER, JsonFormatter, MaskingFilter
from loyalty import card_links
from loyalty.models import Card, Transaction
from loyalty.services import card_operations, ledger
from loyalty.services.anonymisation import anonymise_customer
from loyalty.services.expiry import expire_points
from loyalty.tasks import expire_points as expire_points_task
from loyalty.tasks import sync_wallet_passes
from loyalty.wallet import services as wallet_services
from tests.api.conftest import Terminal
from tests.factories import (
    CardFactory,
    ProgramFactory,
    StaffPinFactory,
    TerminalKeyFactory,
    UserFactory,
)

ROOT = Path(__file__).resolve().parent.parent


class JsonLog:
    def __init__(self, stream: io.StringIO):
        self.stream = stream

    def records(self) -> list[dict]:
        """Every line written, each parsed: one JSON object per line, nothing else."""
        text = self.stream.getvalue()
        assert text == "" or text.endswith("\n")
        records = [json.loads(line) for line in text.splitlines()]
        assert all(isinstance(record, dict) for record in records)
        return records

    def events(self, *names: str) -> list[dict]:
        """The records of these events, without their time and message."""
        return [
            {key: value for key, value in record.items() if key not in ("time", "message")}
            for record in self.records()
            if record.get("event") in names
        ]


@pytest.fixture
def json_log():
    (handler,) = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, MaskingFilter) for f in handler.filters)
    ]
    stream = io.StringIO()
    formatter, previous = JsonFormatter(), handler.setStream(stream)
    saved_formatter = handler.formatter
    handler.setFormatter(formatter)
    yield JsonLog(stream)
    handler.setFormatter(saved_formatter)
    handler.setStream(previous)


def ledger_event(event, card, entry, *, store="main", level="INFO", **fields):
    return {
        "level": level,
        "logger": "loyalty.services.ledger",
        "request_id": None,
        "event": event,
        "merchant": "alice-bakery",
        "store": store,
        "card_id": card.pk,
        "transaction_id": entry.pk,
        "points": entry.points_delta,
        "stamps": entry.stamps_delta,
        "points_balance": entry.points_balance_after,
        "stamp_count": entry.stamps_balance_after,
        "voids": entry.voids_id,
        **fields,
    }


@pytest.mark.django_db
def test_enrolment_and_every_ledger_operation_log_their_event_after_commit(
    json_log, program, store, django_capture_on_commit_callbacks
):
    program.welcome_bonus_points = 25
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        card = ledger.enroll_customer(
            program=program,
            store=store,
            email="nina.weber@example.com",
            first_name="Nina",
            last_name="Weber",
        )
    bonus = Transaction.objects.get(card=card)
    assert json_log.events("card_enrolled", "welcome_bonus") == [
        {
            "level": "INFO",
            "logger": "loyalty.services.ledger",
            "request_id": None,
            "event": "card_enrolled",
            "merchant": "alice-bakery",
            "store": "main",
            "card_id": card.pk,
            "customer_id": card.customer_id,
            "welcome_bonus_points": 25,
        },
        ledger_event("welcome_bonus", card, bonus),
    ]
    (enrolled,) = [r for r in json_log.records() if r.get("event") == "card_enrolled"]
    assert enrolled["message"] == (
        f"card_enrolled merchant=alice-bakery store=main card_id={card.pk} "
        f"customer_id={card.customer_id} welcome_bonus_points=25"
    )

    with django_capture_on_commit_callbacks(execute=True):
        earned = ledger.earn_points(card=card, store=store, purchase_amount_cents=1250)
        redeemed = ledger.redeem_points(card=card, store=store, points=10)
        stamped = ledger.add_stamps(card=card, store=store, count=5)
        stamps_redeemed = ledger.redeem_stamps(card=card, store=store)
        voided = ledger.void_transaction(entry=earned, store=store, reason="wrong card")
        adjusted = ledger.adjust_points(card=card, points=-3, reason="correction")

    assert (earned.points_delta, voided.voids_id, adjusted.store_id) == (12, earned.pk, None)
    assert json_log.events(
        "points_earned",
        "points_redeemed",
        "stamp_earned",
        "stamp_redeemed",
        "points_voided",
        "points_adjusted",
    ) == [
        ledger_event("points_earned", card, earned),
        ledger_event("points_redeemed", card, redeemed),
        ledger_event("stamp_earned", card, stamped),
        ledger_event("stamp_redeemed", card, stamps_redeemed),
        ledger_event("points_voided", card, voided),
        ledger_event("points_adjusted", card, adjusted, store=None),
    ]


@pytest.mark.django_db
def test_emails_queued_log_one_event_per_merchant_and_template(
    json_log, card, store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ledger.add_stamps(card=card, store=store, count=5)
    assert json_log.events("email_queued") == [
        {
            "level": "INFO",
            "logger": "messaging.services.outbox",
            "request_id": None,
            "event": "email_queued",
            "merchant": "alice-bakery",
            "store": "main",
            "card_id": card.pk,
            "template": "loyalty_reward_ready",
            "emails": 1,
        }
    ]


@pytest.mark.django_db
def test_a_rolled_back_operation_logs_no_event(
    json_log, card, store, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ledger.earn_points(card=card, store=store, points=10)
        ledger.add_stamps(card=card, store=store, count=5)
        raise RuntimeError("the caller's transaction fails")

    assert json_log.events("points_earned", "stamp_earned", "email_queued") == []
    card.refresh_from_db()
    assert (card.points_balance, card.stamp_count) == (0, 0)


@pytest.mark.django_db
def test_deactivation_reactivation_and_anonymisation_log_their_event(
    json_log, program, store, other_store, django_capture_on_commit_callbacks
):
    operator = UserFactory(is_staff=True, is_superuser=True)
    card = CardFactory(program=program, enrolled_store=store)
    second = CardFactory(program=program, enrolled_store=other_store, customer=card.customer)
    with django_capture_on_commit_callbacks(execute=True):
        card_operations.deactivate_cards(
            cards=Card.objects.filter(pk=card.pk), reason="lost", user=operator
        )
        card_operations.reactivate_cards(cards=Card.objects.filter(pk=card.pk), user=operator)
        anonymise_customer(customer=card.customer, user=operator, reason="asked")

    context = {"level": "INFO", "request_id": None, "merchant": "alice-bakery"}
    operations = {**context, "logger": "loyalty.services.card_operations", "store": "main"}
    assert json_log.events("card_deactivated", "card_reactivated", "customer_anonymised") == [
        {**operations, "event": "card_deactivated", "card_id": card.pk, "user_id": operator.pk},
        {**operations, "event": "card_reactivated", "card_id": card.pk, "user_id": operator.pk},
        {
            **context,
            "logger": "loyalty.services.anonymisation",
            "event": "customer_anonymised",
            "customer_id": card.customer_id,
            "card_ids": [card.pk, second.pk],
            "emails_cancelled": 0,
            "user_id": operator.pk,
        },
    ]


@pytest.mark.django_db
def test_expiry_logs_each_chunk_and_its_emails(
    json_log, program, store, django_capture_on_commit_callbacks
):
    program.points_expiration_days = 30
    program.save()
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    for card in cards:
        ledger.earn_points(card=card, store=store, points=10)

    with django_capture_on_commit_callbacks(execute=True):
        expire_points(now=timezone.now() + datetime.timedelta(days=31))

    assert json_log.events("expiry_chunk", "email_queued") == [
        {
            "level": "INFO",
            "logger": "loyalty.services.expiry",
            "request_id": None,
            "event": "expiry_chunk",
            "merchant": "alice-bakery",
            "program_id": program.pk,
            "chunk_cards": 3,
            "chunk_points": 30,
        },
        {
            "level": "INFO",
            "logger": "messaging.services.outbox",
            "request_id": None,
            "event": "email_queued",
            "merchant": "alice-bakery",
            "store": None,
            "card_id": None,
            "template": "loyalty_points_expired",
            "emails": 3,
        },
    ]


@pytest.mark.django_db
def test_a_task_run_by_no_request_carries_its_own_task_id(
    json_log, card, store, django_capture_on_commit_callbacks
):
    card.program.points_expiration_days = 30
    card.program.save()
    ledger.earn_points(card=card, store=store, points=10)

    with django_capture_on_commit_callbacks(execute=True):
        Card.objects.filter(pk=card.pk).update(
            last_activity_at=timezone.now() - datetime.timedelta(days=31)
        )
        result = expire_points_task.delay()

    (chunk,) = json_log.events("expiry_chunk")
    assert chunk["request_id"] == result.id


@pytest.mark.django_db
def test_wallet_push_failures_are_warnings_until_a_pass_fails_three_sync_runs(
    json_log, card, store, google_wallet, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        wallet_services.request_pass(card=card)
    google_wallet.fail(400, match=card.number, times=None)

    with django_capture_on_commit_callbacks(execute=True):
        ledger.earn_points(card=card, store=store, points=10)
    for _ in range(3):
        sync_wallet_passes.delay()

    wallet = {
        "logger": "loyalty.wallet.services",
        "merchant": "alice-bakery",
        "card_id": card.pk,
        "http_status": 400,
    }
    records = json_log.events("wallet_sync_failed", "wallet_sync_exhausted")
    # Each push runs in a task queued by no request: the record carries the task's id.
    assert all(record.pop("request_id") for record in records)
    assert records == [
        # The push after the earn's commit: no sync run counted.
        {**wallet, "level": "WARNING", "event": "wallet_sync_failed", "failed_runs": None},
        {**wallet, "level": "WARNING", "event": "wallet_sync_failed", "failed_runs": 1},
        {**wallet, "level": "WARNING", "event": "wallet_sync_failed", "failed_runs": 2},
        {**wallet, "level": "ERROR", "event": "wallet_sync_exhausted", "failed_runs": 3},
    ]


# The request id.


@pytest.mark.django_db
def test_a_safe_incoming_request_id_is_echoed_and_carried_by_the_requests_records(client, json_log):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID="lb-7f3a.client_42")

    assert response[REQUEST_ID_HEADER] == "lb-7f3a.client_42"
    assert json_log.events("http_request") == [
        {
            "level": "INFO",
            "logger": "config.logs",
            "request_id": "lb-7f3a.client_42",
            "event": "http_request",
            "method": "GET",
            "path": "/healthz/",
            "status": 200,
            "duration_ms": json_log.events("http_request")[0]["duration_ms"],
        }
    ]


@pytest.mark.parametrize(
    "incoming",
    ["", "has space", "x" * 129, "<script>", "naïve", "id;drop", "a\r\nSet-Cookie: x=1"],
)
@pytest.mark.django_db
def test_an_unsafe_or_missing_request_id_is_replaced_by_a_new_one(client, json_log, incoming):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID=incoming)

    made = response[REQUEST_ID_HEADER]
    assert made != incoming and len(made) == 32 and int(made, 16) >= 0
    assert [r["request_id"] for r in json_log.events("http_request")] == [made]
    again = client.get("/healthz/", HTTP_X_REQUEST_ID=incoming)
    assert again[REQUEST_ID_HEADER] != made


@pytest.mark.django_db(transaction=True)
def test_the_request_id_reaches_the_events_and_the_tasks_of_the_request(
    json_log, program, store, google_wallet
):
    StaffPinFactory(store=store, pin="2468")
    terminal = Terminal(TerminalKeyFactory(store=store))
    card = CardFactory(program=program, enrolled_store=store)
    wallet_services.request_pass(card=card)
    google_wallet.fail(400, match=card.number, times=None)

    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"points": 5, "staff_pin": "2468"},
        HTTP_X_REQUEST_ID="till-0042",
    )

    assert response.status_code == 201
    assert response[REQUEST_ID_HEADER] == "till-0042"
    # The earn, the wallet push task it queued after its commit, and the access line.
    by_event = {
        r["event"]: r["request_id"]
        for r in json_log.events("points_earned", "wallet_sync_failed", "http_request")
    }
    assert by_event == {
        "points_earned": "till-0042",
        "wallet_sync_failed": "till-0042",
        "http_request": "till-0042",
    }


@pytest.mark.django_db
def test_djangos_record_of_a_404_carries_the_request_id_and_no_link_token(client, json_log):
    response = client.get("/card/not.a-valid:token/", HTTP_X_REQUEST_ID="r-404")

    assert response.status_code == 404
    records = [r for r in json_log.records() if r["logger"] == "django.request"]
    assert records == [
        {
            "time": records[0]["time"],
            "level": "WARNING",
            "logger": "django.request",
            "message": "Not Found: /card/<token>/",
            "request_id": "r-404",
        }
    ]
    assert json_log.events("http_request")[0]["path"] == "/card/<token>/"


def test_a_traceback_stays_on_its_line_masked(json_log):
    try:
        raise ValueError(
            "Key (lower(email::text), merchant_id)=(ann@example.com, 1) already exists"
        )
    except ValueError:
        logging.getLogger("tests.logs").exception("Refused for ann@example.com")

    (record,) = json_log.records()
    assert record["message"] == "Refused for <email>"
    assert record["level"] == "ERROR"
    assert "Traceback" in record["exception"]
    assert "Key (lower(email::text), merchant_id)=(<value>) already exists" in record["exception"]
    assert "ann@example.com" not in json_log.stream.getvalue()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GET /card/abc:1x2:sig/ 200", "GET /card/<token>/ 200"),
        ("GET /fr/card/abc:1x2:sig/wallet/ 302", "GET /fr/card/<token>/wallet/ 302"),
        ("GET /card/lost/ 200", "GET /card/lost/ 200"),
        ("POST /email/unsubscribe/t0k.en/ 200", "POST /email/unsubscribe/<token>/ 200"),
        ("Authorization: Api-Key AbCd1234.s3cr3t", "Authorization: Api-Key <key>"),
        ("to Nina.W+x@Mail.example.lu, ok", "to <email>, ok"),
        ("Failing row contains (7, Ann, Smith, +352 1).", "Failing row contains (<row>)."),
    ],
)
def test_what_is_masked_in_any_record(json_log, text, masked):
    logging.getLogger("tests.logs").warning("%s", text)

    assert json_log.records()[0]["message"] == masked


# The settings.


def run_python(script: str, **variables) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if key not in ("LOG_LEVEL", "LOG_FORMAT")
    }
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="true", **variables)
    return subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, cwd=ROOT
    )


LOG_A_LINE = (
    "import logging, django; django.setup(); "
    "logging.getLogger('loyalty.test').warning('hello %s', 'ann@example.com')"
)


def test_log_format_json_writes_one_json_object_per_line():
    result = run_python(LOG_A_LINE, LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    (record,) = [record for record in records if record["logger"] == "loyalty.test"]
    assert {key: record[key] for key in ("level", "logger", "message", "request_id")} == {
        "level": "WARNING",
        "logger": "loyalty.test",
        "message": "hello <email>",
        "request_id": None,
    }
    assert datetime.datetime.fromisoformat(record["time"]).tzinfo == datetime.UTC


def test_plain_lines_are_the_default_and_a_wrong_format_is_refused():
    result = run_python(LOG_A_LINE)

    assert result.returncode == 0, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "loyalty.test" in line]
    assert line.endswith(" WARNING loyalty.test hello <email>")
    refused = run_python(LOG_A_LINE, LOG_FORMAT="yaml")
    assert refused.returncode != 0
    assert "LOG_FORMAT must be text or json, not 'yaml'" in refused.stderr


# What is never logged.

EMAIL = "Zephyrine.Quimbly@Example.org"
FIRST_NAME, LAST_NAME, PHONE = "Zephyrine", "Quimbly", "+352 621 987 654"
STAFF_PIN, WRONG_PIN = "73914682", "51829364"


@pytest.mark.django_db(transaction=True)
def test_a_run_of_the_main_flows_logs_no_personal_data_nor_secret(
    json_log, client, merchant, store, google_wallet, email_templates
):
    ProgramFactory(
        merchant=merchant,
        require_staff_pin=True,
        welcome_bonus_points=20,
        points_expiration_days=30,
    )
    StaffPinFactory(store=store, staff_name="Hyacinthe Staffname", pin=STAFF_PIN)
    key = TerminalKeyFactory(store=store)
    terminal = Terminal(key)

    enrolled = terminal.post(
        "enrollments/",
        {
            "email": EMAIL,
            "first_name": FIRST_NAME,
            "last_name": LAST_NAME,
            "phone": PHONE,
            "birth_date": "1990-04-01",
            "staff_pin": STAFF_PIN,
        },
    )
    assert enrolled.status_code == 201, enrolled.content
    card = Card.objects.get(number=enrolled.json()["number"])
    customer = card.customer
    wallet_services.request_pass(card=card)

    def post(path, body):
        response = terminal.post(f"cards/{card.number}/{path}", {**body, "staff_pin": STAFF_PIN})
        assert response.status_code == 201, response.content
        return response.json()["transaction"]

    earned = post("points/earn/", {"purchase_amount_cents": 4990})
    post("points/redeem/", {"points": 10})
    post("stamps/", {"count": 5})
    post("stamps/redeem/", {})
    wrong = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": 1, "staff_pin": WRONG_PIN}
    )
    assert wrong.json()["code"] == "pin_invalid"
    google_wallet.fail(400, match=card.number, times=None)
    voided = terminal.post(f"transactions/{earned['id']}/void/", {"staff_pin": STAFF_PIN})
    assert voided.status_code == 201
    assert client.get(card_links.card_path(card.link_key)).status_code == 200
    assert client.get(f"/card/{card.link_key.hex}:forged:token/").status_code == 404
    assert client.post("/card/lost/", {"email": EMAIL}).status_code == 302
    for _ in range(3):
        sync_wallet_passes.delay()
    expire_points(now=timezone.now() + datetime.timedelta(days=31))
    operator = UserFactory(is_staff=True, is_superuser=True)
    anonymise_customer(customer=customer, user=operator, reason="asked")

    events = {record.get("event") for record in json_log.records()}
    assert {
        "card_enrolled",
        "welcome_bonus",
        "points_earned",
        "points_redeemed",
        "stamp_earned",
        "stamp_redeemed",
        "points_voided",
        "email_queued",
        "wallet_sync_failed",
        "wallet_sync_exhausted",
        "expiry_chunk",
        "customer_anonymised",
        "http_request",
    } <= events
    written = json_log.stream.getvalue()
    never = {
        "the email": EMAIL,
        "the email in lower case": EMAIL.lower(),
        "the email's local part": "quimbly",
        "the first name": FIRST_NAME,
        "the last name": LAST_NAME,
        "the phone": PHONE,
        "the phone's digits": "987 654",
        "the staff PIN": STAFF_PIN,
        "the wrong PIN": WRONG_PIN,
        "the staff name": "Hyacinthe",
        "the terminal key": key.secret,
        "the terminal key's secret part": key.secret.partition(".")[2],
        "the card link's key": card.link_key.hex,
        "the secret key": settings.SECRET_KEY,
        "the PIN secret": settings.PIN_SECRET,
        "the wallet key": google_wallet.key_info["private_key_id"],
        "a private key": "PRIVATE KEY",
    }
    found = [what for what, text in never.items() if text.lower() in written.lower()]
    assert found == []
