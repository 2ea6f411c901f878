import datetime
from unittest import mock

import time_machine
from django.db import OperationalError
from django.utils import timezone

from loyalty.models import TaskRun
from loyalty.tasks import EXPIRE_POINTS

NOW = datetime.datetime(2026, 5, 4, 12, 0, tzinfo=datetime.UTC)


def record_success(finished_at: datetime.datetime, *, scope: str = "") -> None:
    TaskRun.objects.create(
        task=EXPIRE_POINTS,
        scope=scope,
        started_at=finished_at - datetime.timedelta(minutes=1),
        finished_at=finished_at,
        status=TaskRun.Status.SUCCEEDED,
    )


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_expiry_succeeded_within_26_hours(client, db):
    record_success(NOW - datetime.timedelta(hours=26))

    with time_machine.travel(NOW, tick=False):
        response = client.get("/readyz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_unavailable_when_expiry_last_succeeded_over_26_hours_ago(client, db):
    record_success(NOW - datetime.timedelta(hours=26, seconds=1))
    TaskRun.objects.create(
        task=EXPIRE_POINTS,
        started_at=NOW - datetime.timedelta(hours=1),
        finished_at=NOW,
        status=TaskRun.Status.FAILED,
    )

    with time_machine.travel(NOW, tick=False):
        response = client.get("/readyz/")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "reasons": ["loyalty.expire_points last succeeded at 2026-05-03T09:59:59+00:00"],
    }


def test_readyz_is_unavailable_when_expiry_never_succeeded(client, db):
    response = client.get("/readyz/")

    assert response.status_code == 503
    assert response.json()["reasons"] == ["loyalty.expire_points has never succeeded"]


def test_a_run_for_some_merchants_does_not_count_as_the_nightly_job(client, db):
    record_success(timezone.now(), scope="alice-bakery")

    response = client.get("/readyz/")

    assert response.status_code == 503


def test_readyz_is_unavailable_when_the_database_is_unreachable(client, db):
    with mock.patch("config.health.connection.cursor", side_effect=OperationalError("refused")):
        response = client.get("/readyz/")

    assert response.status_code == 503
    assert response.json()["reasons"] == ["database unreachable: refused"]


def test_readyz_is_unavailable_when_the_broker_is_unreachable(client, db, settings):
    record_success(timezone.now())
    # Nothing listens on port 1.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/readyz/")

    assert response.status_code == 503
    [reason] = response.json()["reasons"]
    assert reason.startswith("broker unreachable: ")
