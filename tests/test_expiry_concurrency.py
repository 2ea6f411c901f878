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
    return expirable_program(CARDS)


def expirable_program(cards: int):
    """A programme whose `cards` cards all expire at NOW, each with its ledger."""
    merchant = MerchantFactory()
    store = StoreFactory(merchant=merchant)
    program = ProgramFactory(merchant=merchant, points_expiration_days=365)
    customers = Customer.objects.bulk_create(
        Customer(merchant=merchant, email=f"c{i}@example.com", first_name=f"C{i}")
        for i in range(cards)
    )
    last_active = NOW - datetime.timedelta(days=400)
    cards = Card.objects.bulk_create(
        Card(
            program=program,
            customer=customer,
            enrolled_store=store,
            number=f"{program.pk:04d}{i:08d}",
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
    emails = OutgoingEmail.objects.filter(
        template=expiry.EXPIRED_TEMPLATE, merchant_id=program.merchant_id
    )
    assert emails.count() == CARDS


def test_two_runs_at_once_expire_each_card_exactly_once(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", CHUNK)
    # The first run holds its first chunk locked until the second run, started only then,
    # has committed a chunk of its own: the second run must skip the locked rows, not wait.
    first_holds_locks = threading.Event()
    second_committed = threading.Event()
    expire_chunk = expiry._expire_chunk

    def expire_and_hold(**kwargs):
        rows = expire_chunk(**kwargs)
        # The runs' walker threads are named after the thread that started the run.
        first = threading.current_thread().name.startswith("first")
        if first and not first_holds_locks.is_set():
            first_holds_locks.set()
            assert second_committed.wait(timeout=20)
        return rows

    monkeypatch.setattr(expiry, "_expire_chunk", expire_and_hold)
    results, errors = {}, []

    def run(name):
        try:
            if name == "second":
                assert first_holds_locks.wait(timeout=20)
                # Called after each committed chunk.
                results[name] = expiry.expire_points(
                    now=NOW, on_progress=lambda cards: second_committed.set()
                )
            else:
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
    # The third chunk died with its transaction and left nothing; the walkers' first chunks
    # (one or both, as the kill may come before the second one's commit) are whole.
    expired = Transaction.objects.filter(type="points_expired").count()
    assert 0 < expired <= 2 * CHUNK
    assert Card.objects.filter(program=program, points_balance=0).count() == expired

    counts = expiry.expire_points(now=NOW)

    assert counts.cards == CARDS - expired
    cards = Card.objects.filter(program=program).annotate(
        expired_rows=Count("transactions", filter=Q(transactions__type="points_expired")),
        ledger_total=Sum("transactions__points_delta"),
    )
    for card in cards:
        assert card.expired_rows == 1, card.number
        assert card.ledger_total == card.points_balance == 0


def test_walkers_expire_every_programme_on_connections_of_their_own(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", CHUNK)
    expire_chunk = expiry._expire_chunk
    chunks_by = []

    def recording_expire_chunk(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            chunks_by.append((threading.current_thread().name, cursor.fetchone()[0]))
        return expire_chunk(**kwargs)

    monkeypatch.setattr(expiry, "_expire_chunk", recording_expire_chunk)
    small_program = expirable_program(7)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_backend = cursor.fetchone()[0]
    progress = []

    counts = expiry.expire_points(now=NOW, on_progress=progress.append)

    assert (counts.programs, counts.cards) == (2, CARDS + 7)
    assert sum(progress) == CARDS + 7
    assert Card.objects.filter(program=small_program, points_balance=0).count() == 7
    # Both programmes by the same walkers: one connection each for the whole run.
    names = {name for name, _ in chunks_by}
    backends = {backend for _, backend in chunks_by}
    main = threading.current_thread().name
    assert names == {f"{main}-expiry-{number}" for number in range(expiry.WALKERS)}
    assert len(backends) == expiry.WALKERS
    assert own_backend not in backends
    assert_each_card_expired_exactly_once(program)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [list(backends)]
        )
        assert cursor.fetchone()[0] == 0, "the walkers close their connections"


def test_ranges_cover_every_card_once_and_a_small_programme_takes_one(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", CHUNK)
    ranges = expiry._id_ranges(program)
    ids = list(Card.objects.filter(program=program).order_by("pk").values_list("pk", flat=True))

    assert len(ranges) == CARDS // (4 * CHUNK)
    assert ranges[0][0] == ids[0] - 1
    assert ranges[-1][1] == ids[-1]
    for (_, up_to), (after, _) in zip(ranges, ranges[1:], strict=False):
        assert up_to == after
    covered = [pk for pk in ids for after, up_to in ranges if after < pk <= up_to]
    assert covered == ids
    assert len(expiry._id_ranges(expirable_program(4 * CHUNK - 1))) == 1
    monkeypatch.setattr(expiry, "CHUNK_SIZE", 1)
    assert len(expiry._id_ranges(program)) == expiry.MAX_RANGES


def test_a_failure_in_one_walker_stops_the_run(program, monkeypatch):
    monkeypatch.setattr(expiry, "CHUNK_SIZE", CHUNK)
    queue_emails = expiry.queue_emails
    calls = []

    def failing_third_time(requests):
        calls.append(len(requests))
        if len(calls) == 3:
            raise RuntimeError("outbox unavailable")
        return queue_emails(requests)

    monkeypatch.setattr(expiry, "queue_emails", failing_third_time)

    with pytest.raises(RuntimeError, match="outbox unavailable"):
        expiry.expire_points(now=NOW)

    # Every walker stops after its current chunk: each committed chunk is whole, and a
    # re-run finishes the job.
    expired = Transaction.objects.filter(type="points_expired").count()
    assert expired < CARDS
    assert Card.objects.filter(program=program, points_balance=0).count() == expired
    monkeypatch.setattr(expiry, "queue_emails", queue_emails)
    assert expiry.expire_points(now=NOW).cards == CARDS - expired
