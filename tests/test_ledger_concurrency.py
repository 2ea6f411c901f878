"""The ledger rule under real concurrency: separate processes, each with its own PostgreSQL
connection, hammer one card."""

import multiprocessing
import random
import time
import traceback

import pytest
from django.db import connections
from django.db.models import Count, Sum

from loyalty import errors
from loyalty.models import Card, Transaction
from loyalty.services import ledger
from tests.factories import CardFactory, ProgramFactory, StoreFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PROCESSES = 8
OPERATIONS_PER_PROCESS = 200
STAMPS_TARGET = 3


def _unlocked_read(card_id):
    """The card read without a row lock, then a pause that widens the race window."""
    card = Card.all_objects.select_related("program", "customer").get(pk=card_id)
    time.sleep(0.002)
    return card


def _mixed_operations(card_id, store_id, seed, lock_cards, results):
    connections.close_all()  # never share the parent's connection
    if not lock_cards:
        ledger.lock_card = _unlocked_read
    rng = random.Random(seed)
    card = Card.objects.get(pk=card_id)
    store = card.enrolled_store.__class__.objects.get(pk=store_id)
    own_entries = []
    outcome = {"ok": 0, "refused": {}, "failed": [], "points": 0, "stamps": 0}
    for _ in range(OPERATIONS_PER_PROCESS):
        kind = rng.choice(["earn", "earn", "redeem", "stamps", "redeem_stamps", "void"])
        try:
            if kind == "earn":
                entry = ledger.earn_points(card=card, store=store, points=rng.randint(1, 50))
            elif kind == "redeem":
                entry = ledger.redeem_points(card=card, store=store, points=rng.randint(1, 60))
            elif kind == "stamps":
                entry = ledger.add_stamps(card=card, store=store, count=rng.randint(1, 2))
            elif kind == "redeem_stamps":
                entry = ledger.redeem_stamps(card=card, store=store)
            else:
                if not own_entries:
                    continue
                entry = ledger.void_transaction(entry=rng.choice(own_entries), store=store)
        except errors.DomainError as exc:
            outcome["refused"][exc.code] = outcome["refused"].get(exc.code, 0) + 1
            continue
        except Exception:
            outcome["failed"].append(traceback.format_exc(limit=2))
            continue
        outcome["ok"] += 1
        outcome["points"] += entry.points_delta
        outcome["stamps"] += entry.stamps_delta
        own_entries.append(entry)
    connections.close_all()
    results.put(outcome)


def _run_in_processes(target, args_for):
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    connections.close_all()
    processes = [
        context.Process(target=target, args=(*args_for(i), results)) for i in range(PROCESSES)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return outcomes, time.perf_counter() - started


def _hammer(lock_cards):
    program = ProgramFactory(stamps_target=STAMPS_TARGET)
    store = StoreFactory(merchant=program.merchant)
    card = CardFactory(program=program, enrolled_store=store)
    ledger.earn_points(card=card, store=store, points=500)
    outcomes, elapsed = _run_in_processes(
        _mixed_operations, lambda i: (card.pk, store.pk, i, lock_cards)
    )
    card.refresh_from_db()
    return card, outcomes, elapsed


def _ledger_sums(card):
    return card.transactions.aggregate(
        points=Sum("points_delta"), stamps=Sum("stamps_delta"), rows=Count("id")
    )


def test_concurrent_mixed_operations_keep_every_invariant(capsys):
    card, outcomes, elapsed = _hammer(lock_cards=True)

    failures = [f for o in outcomes for f in o["failed"]]
    assert failures == [], failures[0] if failures else ""
    sums = _ledger_sums(card)
    succeeded = sum(o["ok"] for o in outcomes)
    # Nothing lost: every reported success is one ledger row (plus the opening earn) ...
    assert sums["rows"] == succeeded + 1
    # ... and the balances are exactly the ledger's sums and what the workers reported.
    assert card.points_balance == sums["points"] == 500 + sum(o["points"] for o in outcomes)
    assert card.stamp_count == sums["stamps"] == sum(o["stamps"] for o in outcomes)
    assert not Transaction.objects.filter(points_balance_after__lt=0).exists()
    assert card.points_balance >= 0 and card.stamp_count >= 0
    voids = Transaction.objects.filter(card=card, voids__isnull=False)
    assert voids.count() == voids.values("voids").distinct().count()
    refused = {}
    for outcome in outcomes:
        for code, count in outcome["refused"].items():
            refused[code] = refused.get(code, 0) + count
    assert set(refused) <= {
        "insufficient_points",
        "insufficient_stamps",
        "already_voided",
        "not_voidable",
    }
    with capsys.disabled():
        attempted = PROCESSES * OPERATIONS_PER_PROCESS
        print(
            f"\n[concurrency] {PROCESSES} processes x {OPERATIONS_PER_PROCESS} operations on one "
            f"card: {succeeded} applied, {sum(refused.values())} refused by a rule {refused}, "
            f"0 failed, {elapsed:.2f} s ({attempted / elapsed:.0f} operations/s); "
            f"final balance {card.points_balance} points, {card.stamp_count} stamps = ledger sums"
        )


def test_without_the_card_lock_the_same_load_breaks_the_invariants(capsys):
    """Negative control: proves the test above can fail."""
    card, outcomes, _ = _hammer(lock_cards=False)

    sums = _ledger_sums(card)
    reported = 500 + sum(o["points"] for o in outcomes)
    failures = sum(len(o["failed"]) for o in outcomes)
    race_seen = (
        card.points_balance != sums["points"]
        or card.stamp_count != sums["stamps"]
        or card.points_balance != reported
        or failures > 0
    )
    assert race_seen
    with capsys.disabled():
        print(
            f"\n[concurrency, no lock] balance {card.points_balance} vs ledger sum "
            f"{sums['points']}, stamps {card.stamp_count} vs {sums['stamps']}, "
            f"{failures} operations failed outside the rules"
        )


def _redeem_whole_balance(card_id, store_id, points, barrier, results):
    connections.close_all()
    card = Card.objects.get(pk=card_id)
    store = card.enrolled_store
    barrier.wait(timeout=30)
    try:
        ledger.redeem_points(card=card, store=store, points=points)
    except errors.DomainError as exc:
        results.put(exc.code)
    except Exception as exc:  # reported, so that the test fails with the reason
        results.put(f"failed: {exc!r}")
    else:
        results.put("ok")
    connections.close_all()


def test_concurrent_redeems_of_the_whole_balance_let_exactly_one_through():
    program = ProgramFactory()
    store = StoreFactory(merchant=program.merchant)
    card = CardFactory(program=program, enrolled_store=store)
    ledger.earn_points(card=card, store=store, points=300)
    barrier = multiprocessing.get_context("fork").Barrier(PROCESSES)

    outcomes, _ = _run_in_processes(
        _redeem_whole_balance, lambda i: (card.pk, store.pk, 300, barrier)
    )

    assert sorted(outcomes) == ["insufficient_points"] * (PROCESSES - 1) + ["ok"]
    card.refresh_from_db()
    assert card.points_balance == 0
    assert card.transactions.filter(type="points_redeemed").count() == 1


def _enrol(program_id, store_id, barrier, results):
    connections.close_all()
    program = ProgramFactory._meta.model.objects.get(pk=program_id)
    store = StoreFactory._meta.model.objects.get(pk=store_id)
    barrier.wait(timeout=30)
    try:
        ledger.enroll_customer(program=program, store=store, email="same@x.com", first_name="S")
    except errors.DomainError as exc:
        results.put(exc.code)
    except Exception as exc:
        results.put(f"failed: {exc!r}")
    else:
        results.put("ok")
    connections.close_all()


def test_concurrent_enrolments_of_one_person_make_one_card():
    program = ProgramFactory(allow_cross_location_redemption=True)
    stores = [StoreFactory(merchant=program.merchant) for _ in range(PROCESSES)]
    barrier = multiprocessing.get_context("fork").Barrier(PROCESSES)

    outcomes, _ = _run_in_processes(_enrol, lambda i: (program.pk, stores[i].pk, barrier))

    assert sorted(outcomes) == ["already_enrolled"] * (PROCESSES - 1) + ["ok"]
    assert Card.objects.filter(program=program).count() == 1
