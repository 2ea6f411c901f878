"""Analytics reads go to the read replica when one is configured, and only they do."""

import datetime

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from loyalty.analytics import selectors
from loyalty.analytics.periods import Period
from loyalty.analytics.router import AnalyticsRouter, analytics_reads
from loyalty.models import Card, Transaction
from tests.analytics_history import build_history
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_reads_inside_analytics_go_to_the_analytics_database(settings):
    router = AnalyticsRouter()
    settings.ANALYTICS_DATABASE = "replica"

    with analytics_reads() as alias:
        assert alias == "replica"
        assert router.db_for_read(Transaction) == "replica"
        assert router.db_for_read(Card) == "replica"
        # Writes never go to a replica.
        assert router.db_for_write(Transaction) is None
    assert router.db_for_read(Transaction) is None


def test_without_a_replica_analytics_read_the_primary(db, settings):
    settings.ANALYTICS_DATABASE = "default"

    with analytics_reads():
        assert AnalyticsRouter().db_for_read(Transaction) == "default"


def test_nothing_is_migrated_on_the_replica():
    router = AnalyticsRouter()

    assert router.allow_migrate("replica", "loyalty") is False
    assert router.allow_migrate("default", "loyalty") is True


def test_the_settings_add_the_replica_from_its_url(monkeypatch):
    import importlib

    import config.settings

    monkeypatch.setenv("DATABASE_URL", "postgres://app@primary.example:5432/loyalty")
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://reader@replica.example:5433/loyalty")
    try:
        reloaded = importlib.reload(config.settings)
        replica = reloaded.DATABASES["replica"]
        assert (replica["HOST"], replica["PORT"], replica["USER"]) == (
            "replica.example",
            5433,
            "reader",
        )
        assert replica["OPTIONS"]["server_side_binding"] is True
        assert replica["TEST"] == {"MIRROR": "default"}
        assert reloaded.ANALYTICS_DATABASE == "replica"
        assert reloaded.DATABASE_ROUTERS == ["loyalty.analytics.router.AnalyticsRouter"]
    finally:
        monkeypatch.undo()
        importlib.reload(config.settings)


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_the_analytics_api_runs_its_queries_on_the_replica(settings):
    """The replica alias is a second connection to the test database (a test mirror): the
    figures come back right, every analytics query ran on it, and none on the primary but
    the session's and the user's look-ups."""
    merchant = build_history()["merchant"]
    operator = Client()
    operator.force_login(UserFactory(is_staff=True, is_superuser=True))
    settings.ANALYTICS_DATABASE = "replica"

    with (
        CaptureQueriesContext(connections["default"]) as primary,
        CaptureQueriesContext(connections["replica"]) as replica,
    ):
        response = operator.get(
            "/api/v1/merchant/analytics/revenue/",
            {"merchant": "alice-bakery", "date_from": "2026-01-01", "date_to": "2026-03-31"},
        )
        churn = selectors.churn_risk(
            period=Period(
                merchant=merchant,
                date_from=datetime.date(2026, 1, 1),
                date_to=datetime.date(2026, 3, 31),
            )
        )

    assert response.json()["total"]["revenue_cents"] == 6700
    assert churn.at_risk_count == 3
    # Revenue's six reads of the summaries (their as-of twice, the sums per store and month,
    # the members per store and month, per month and in all; the quarter has whole months
    # only) and churn's two (the as-of, the cards at risk).
    summary_reads = [q["sql"] for q in replica.captured_queries if "loyalty_analytics" in q["sql"]]
    assert len(summary_reads) == 8
    assert [q["sql"] for q in primary.captured_queries if "loyalty_analytics" in q["sql"]] == []
    assert [q["sql"] for q in primary.captured_queries if "loyalty_transaction" in q["sql"]] == []
