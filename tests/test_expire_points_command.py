import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from loyalty.models import Card, TaskRun, Transaction, TransactionType
from loyalty.services.ledger import earn_points
from loyalty.tasks import EXPIRE_POINTS

EARNED_AT = datetime.datetime(2026, 1, 10, 9, 30, tzinfo=datetime.UTC)


@pytest.fixture
def program(merchant):
    from tests.factories import ProgramFactory

    return ProgramFactory(merchant=merchant, points_expiration_days=30)


@pytest.fixture
def expirable_card(card):
    with time_machine.travel(EARNED_AT, tick=False):
        earn_points(card=card, store=None, points=40)
    return card


def run(*args) -> str:
    out = StringIO()
    call_command("expire_points", *args, stdout=out)
    return out.getvalue()


def test_it_expires_as_of_the_given_moment_and_prints_a_summary(expirable_card):
    output = run("--now", "2026-03-01T02:00:00+01:00")

    assert output.strip() == ("Expired 40 points on 1 cards in 1 programmes; queued 0 warnings.")
    expirable_card.refresh_from_db()
    assert expirable_card.points_balance == 0


def test_a_full_run_is_recorded_as_the_nightly_job(expirable_card):
    run("--now", "2026-03-01T02:00:00")

    recorded = TaskRun.objects.get()
    assert (recorded.task, recorded.scope, recorded.status) == (
        EXPIRE_POINTS,
        "",
        TaskRun.Status.SUCCEEDED,
    )
    assert recorded.counts == {"programs": 1, "cards": 1, "points": 40, "warnings": 0}
    assert recorded.finished_at >= recorded.started_at


def test_a_run_for_some_merchants_touches_only_them_and_records_its_scope(
    expirable_card, rival_merchant
):
    rival_card = rival_merchant["card"]
    rival_merchant["program"].points_expiration_days = 30
    rival_merchant["program"].save()
    with time_machine.travel(EARNED_AT, tick=False):
        earn_points(card=rival_card, store=None, points=9)

    run("--merchant", "bob-books", "--merchant", "alice-bakery", "--now", "2026-03-01")

    assert Card.objects.filter(points_balance=0).count() == 2
    assert TaskRun.objects.get().scope == "alice-bakery,bob-books"


def test_a_dry_run_counts_and_changes_nothing(expirable_card):
    output = run("--dry-run", "--now", "2026-03-01T00:00:00Z")

    assert output.strip() == (
        "Dry run as of 2026-03-01T00:00:00+00:00: would expire 40 points on 1 cards in "
        "1 programmes and queue 0 warnings. Nothing was changed."
    )
    expirable_card.refresh_from_db()
    assert expirable_card.points_balance == 40
    assert not Transaction.objects.filter(type=TransactionType.POINTS_EXPIRED).exists()
    assert not TaskRun.objects.exists()


def test_an_unknown_merchant_is_refused_by_name(merchant):
    with pytest.raises(CommandError, match="Unknown merchant: nobody"):
        run("--merchant", "alice-bakery", "--merchant", "nobody")
    assert not TaskRun.objects.exists()


def test_a_malformed_moment_is_refused(db):
    with pytest.raises(CommandError, match="not an ISO date-time"):
        run("--now", "yesterday")


def test_a_failure_exits_non_zero_and_is_recorded(expirable_card, monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("loyalty.management.commands.expire_points.expire_points", fail)

    with pytest.raises(CommandError, match="Expiry failed: database went away"):
        run("--now", "2026-03-01")

    recorded = TaskRun.objects.get()
    assert recorded.status == TaskRun.Status.FAILED
    assert "database went away" in recorded.error
    assert recorded.finished_at is not None
