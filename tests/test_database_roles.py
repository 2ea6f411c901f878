"""On PostgreSQL the ledger refuses TRUNCATE, and the web and worker processes can run as a
role that owns nothing."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from loyalty.models import Card, Transaction
from loyalty.services import ledger

pytestmark = pytest.mark.postgres

APP_ROLE = "loyalty_app_role_under_test"


def execute(statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def test_the_ledger_refuses_truncate_even_by_its_owner(card):
    ledger.earn_points(card=card, store=card.enrolled_store, points=10)
    # Check the foreign keys now: TRUNCATE refuses to run with checks still pending.
    execute("SET CONSTRAINTS ALL IMMEDIATE")
    for statement in [
        "TRUNCATE loyalty_transaction",
        "TRUNCATE loyalty_transaction CASCADE",
        "TRUNCATE loyalty_card, loyalty_transaction CASCADE",
    ]:
        with pytest.raises(DatabaseError, match="TRUNCATE refused"), transaction.atomic():
            execute(statement)
    assert Transaction.objects.filter(card=card).count() == 1


@pytest.fixture
def as_app_role(db):
    """The test's connection acting as a fresh role granted by grant_app_role (CREATE ROLE
    is transactional: the test's rollback removes it)."""
    execute(f"CREATE ROLE {APP_ROLE} NOLOGIN")
    call_command("grant_app_role", APP_ROLE)
    execute(f"SET ROLE {APP_ROLE}")
    yield
    execute("RESET ROLE")


def test_the_app_role_does_the_ledgers_work(as_app_role, card):
    ledger.earn_points(card=card, store=card.enrolled_store, points=30)
    redemption = ledger.redeem_points(card=card, store=card.enrolled_store, points=10)
    ledger.void_transaction(entry=redemption, store=card.enrolled_store)
    card.refresh_from_db()
    assert card.points_balance == 30
    assert Transaction.objects.filter(card=card).count() == 3


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("TRUNCATE loyalty_transaction", "permission denied"),
        ("TRUNCATE loyalty_card CASCADE", "permission denied"),
        ("DELETE FROM loyalty_transaction", "permission denied"),
        ("ALTER TABLE loyalty_transaction DISABLE TRIGGER ALL", "must be owner"),
        ("ALTER TABLE loyalty_transaction DISABLE TRIGGER loyalty_ledger_append_only", "owner"),
        ("DROP TRIGGER loyalty_ledger_refuse_truncate ON loyalty_transaction", "owner"),
        ("ALTER TABLE loyalty_card DROP CONSTRAINT card_points_balance_gte_0", "owner"),
        ("DROP TABLE loyalty_transaction", "owner"),
        ("CREATE TABLE loyalty_extra (id int)", "permission denied"),
    ],
)
def test_the_app_role_cannot_empty_or_reshape_the_ledger(as_app_role, card, statement, message):
    ledger.earn_points(card=card, store=card.enrolled_store, points=10)
    with pytest.raises(DatabaseError, match=message), transaction.atomic():
        execute(statement)
    assert Transaction.objects.filter(card=card).count() == 1
    assert Card.objects.get(pk=card.pk).points_balance == 10


def test_granting_an_unknown_role_is_a_clear_error(db):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("grant_app_role", "no_such_role_here")
