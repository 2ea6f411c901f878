"""Expiry under concurrency and crashes, on PostgreSQL: each run on its own connection."""

import datetime
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum

from customers.models import Customer
from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import expiry
from messaging.models import OutgoingEmail
from tests.factories import MerchantFactory, ProgramFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.datetime(2026, 6, 1, 2, 0, tzinfo=datetime.UTC)
CARDS = 600
CHUNK = 50


@pytest.fixture
def program():
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    program = ProgramFactory(merchant=merchant, points_expiration_days=365)
    customers = Customer.objects.bulk_create(
        Customer(merchant=merchant, email=f"c{i}@example.com", first_name=f"C{i}")
        for i in range(CARDS)
    )
    last_active = NOW - datetime.timedelta(days=400)
    cards = Card.objects.bulk_create(
        Card(
            program=program,
            customer=customer,
            enrolled_store=store,
            number=f"{i:012d}",
            points_balance=10 + i,
            lifetime_points_earned=10 + i,
            last_activity_at=last_active,
        )
        for i, customer in enumerate(customers)
    )
    # The ledger as enrolment and earning leave it: one row per card, for its balance.
    Transaction.objects.bulk_create(
        Transaction(
            card=card,
            merchant=merchant,
            store=store,
            type=TransactionType.POINTS_EARNED,
            points_delta=card.points_balance,
            points_balance_after=card.points_balance,
            stamps_balance_after=0,
        )
        for card in cards
    )
    return program


def assert_each_card_expired_exactly_once(program) -> None:
    cards = Card.objects.filter(program=program).annotate(
        expired_rows=Count("transactions", filter=Q(transactions__type="points_expired")),
        ledger_total=Sum("transactions__points_delta"),
    )
    assert cards.count() == CARDS
    for card in cards:
        assert card.expired_rows == 1, card.number
        assert card.points_balance == 0
        assert card.ledger_total == card.points_balance
        assert card.lifetime_points_expired == card.lifetime_points_earned
    assert OutgoingEmail.objects.filter(template=expiry.EXPIRED_TEMPLATE).count() == CARDS


def test_two_runs_at_once_expire_each_card_exactly_once(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", CHUNK)
    # The first run holds its first chunk locked until the second run, started only then,
    # has committed a chunk of its own: the second run must skip the locked rows, not wait.
    first_holds_locks = threading.Event()
    second_committed = threading.Event()
    expire_chunk = expiry._expire_chunk
    queue_emails = expiry.queue_emails

    def expire_and_hold(**kwargs):
        rows = expire_chunk(**kwargs)
        if threading.current_thread().name == "first" and not first_holds_locks.is_set():
            first_holds_locks.set()
            assert second_committed.wait(timeout=20)
        return rows

    def queue_and_signal(requests):
        if threading.current_thread().name == "second":
            second_committed.set()
        return queue_emails(requests)

    monkeypatch.setattr(expiry, "_expire_chunk", expire_and_hold)
    monkeypatch.setattr(expiry, "queue_emails", queue_and_signal)
    results, errors = {}, []

    def run(name):
        try:
            if name == "second":
                assert first_holds_locks.wait(timeout=20)
            results[name] = expiry.expire_points(now=NOW)
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(name,), name=name) for name in ("first", "second")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert results["first"].cards > 0
    assert results["second"].cards > 0
    assert results["first"].cards + results["second"].cards == CARDS
    assert_each_card_expired_exactly_once(program)


KILLED_RUN = """
import datetime, os, signal, sys
import django
django.setup()
from loyalty.services import expiry

expiry.CHUNK_SIZE = int(sys.argv[2])
expire_chunk = expiry._expire_chunk
calls = []

def expire_then_die(**kwargs):
    rows = expire_chunk(**kwargs)
    calls.append(1)
    if len(calls) == 3:
        # Killed inside the third chunk's transaction, after its rows were written.
        os.kill(os.getpid(), signal.SIGKILL)
    return rows

expiry._expire_chunk = expire_then_die
expiry.expire_points(now=datetime.datetime.fromisoformat(sys.argv[1]))
"""


def test_a_run_killed_midway_then_run_again_expires_each_card_exactly_once(
    program, test_database_url
):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": test_database_url,
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, NOW.isoformat(), str(CHUNK)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    # Two chunks committed; the third died with its transaction and left nothing.
    assert Card.objects.filter(program=program, points_balance=0).count() == 2 * CHUNK
    assert Transaction.objects.filter(type="points_expired").count() == 2 * CHUNK

    counts = expiry.expire_points(now=NOW)

    assert counts.cards == CARDS - 2 * CHUNK
    cards = Card.objects.filter(program=program).annotate(
        expired_rows=Count("transactions", filter=Q(transactions__type="points_expired")),
        ledger_total=Sum("transactions__points_delta"),
    )
    for card in cards:
        assert card.expired_rows == 1, card.number
        assert card.ledger_total == card.points_balance == 0
