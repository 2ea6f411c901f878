"""The scheduled jobs skip rows that another session holds locked (a terminal's operation, an
operator's edit) instead of waiting for them, and lock only the rows they change: PostgreSQL,
each session on its own connection."""

import contextlib
import datetime
import threading

import psycopg
import pytest
from django.db import connection, connections

from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import expiry, marketing_emails
from messaging.models import OutgoingEmail
from tests.factories import CardFactory, CustomerFactory, MerchantFactory, ProgramFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOW = datetime.datetime(2026, 6, 10, 9, 0, tzinfo=datetime.UTC)
# Long enough for a job that skips locked rows, on a busy machine; a job that waits for them
# waits until the lock is released.
PATIENCE_SECONDS = 15


@contextlib.contextmanager
def locked_elsewhere(*rows: tuple[str, int]):
    """Another session holds `SELECT ... FOR UPDATE` locks on these (table, id) rows until
    the block ends."""
    database = connection.settings_dict
    with psycopg.connect(
        host=database["HOST"],
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"],
        dbname=database["NAME"],
    ) as other:
        for table, pk in rows:
            other.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [pk])
        yield
        other.rollback()


def run_while_locked(job, *rows: tuple[str, int]):
    """Run `job` on a connection of its own while `rows` are locked elsewhere; its result.
    Fails if the job is still waiting when its patience runs out."""
    outcome = {}

    def run():
        try:
            outcome["result"] = job()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    with locked_elsewhere(*rows):
        worker.start()
        worker.join(timeout=PATIENCE_SECONDS)
        waited = worker.is_alive()
    worker.join()
    assert not waited, "the job waited for a row locked elsewhere instead of skipping it"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def inactive_card(program, days: int, **customer) -> Card:
    card = CardFactory(
        program=program,
        customer=CustomerFactory(merchant=program.merchant, marketing_consent=True, **customer),
    )
    Card.objects.filter(pk=card.pk).update(
        points_balance=30,
        lifetime_points_earned=30,
        last_activity_at=NOW - datetime.timedelta(days=days),
    )
    return card


def test_expiry_skips_a_card_locked_by_a_terminal():
    program = ProgramFactory(points_expiration_days=30)
    locked, free = inactive_card(program, 40), inactive_card(program, 40)

    counts = run_while_locked(lambda: expiry.expire_points(now=NOW), ("loyalty_card", locked.pk))

    assert (counts.cards, counts.points) == (1, 30)
    expired = Transaction.objects.filter(type=TransactionType.POINTS_EXPIRED)
    assert list(expired.values_list("card_id", flat=True)) == [free.pk]
    locked.refresh_from_db()
    assert locked.points_balance == 30


def test_birthdays_skip_a_locked_customer_and_lock_nothing_else():
    program = ProgramFactory(merchant=MerchantFactory(timezone="Europe/Luxembourg"))
    born = datetime.date(1990, 6, 10)
    locked = inactive_card(program, 1, birth_date=born, email="locked@example.com")
    free = inactive_card(program, 1, birth_date=born, email="free@example.com")

    # The programme's row is locked too (an operator editing it): the job locks customers only.
    result = run_while_locked(
        lambda: marketing_emails.send_birthday_emails(now=NOW),
        ("customers_customer", locked.customer_id),
        ("loyalty_program", program.pk),
    )

    assert result == {"emails": 1}
    assert list(OutgoingEmail.objects.values_list("to", flat=True)) == [free.customer.email]


def test_reengagement_skips_a_locked_card_and_locks_only_cards():
    program = ProgramFactory(reengagement_after_days=60)
    locked, free = inactive_card(program, 90), inactive_card(program, 90)

    # The free card's customer is locked (an operator editing them): the job locks cards only.
    result = run_while_locked(
        lambda: marketing_emails.send_reengagement_emails(now=NOW),
        ("loyalty_card", locked.pk),
        ("customers_customer", free.customer_id),
    )

    assert result == {"emails": 1}
    assert list(OutgoingEmail.objects.values_list("customer_id", flat=True)) == [free.customer_id]
    locked.refresh_from_db()
    assert locked.last_reengagement_at is None
