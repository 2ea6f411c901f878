"""The beat schedule rows made by the data migration."""

import datetime
import importlib
import zoneinfo

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from config.celery import app
from loyalty.models import IdempotencyRecord, TaskRun
from tests.factories import TerminalKeyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("schedules")]

LUXEMBOURG = zoneinfo.ZoneInfo("Europe/Luxembourg")


@pytest.fixture
def worker_tasks():
    """The tasks a worker registers: it imports every app's tasks module at start."""
    app.loader.import_default_modules()
    return app.tasks


# Beat sleeps at most this long between two looks at its schedule (its max_interval).
BEAT_MAX_INTERVAL = datetime.timedelta(minutes=5)


def test_the_migration_creates_the_schedules_of_the_design(worker_tasks):
    rows = {
        task.task: (task.enabled, str(task.crontab))
        for task in PeriodicTask.objects.select_related("crontab")
    }

    assert rows == {
        "loyalty.expire_points": (True, "0 2 * * * (m/h/dM/MY/d) Europe/Luxembourg"),
        "loyalty.sync_wallet_passes": (True, "*/15 * * * * (m/h/dM/MY/d) Europe/Luxembourg"),
        "loyalty.send_birthday_emails": (True, "0 * * * * (m/h/dM/MY/d) Europe/Luxembourg"),
        "loyalty.send_reengagement_emails": (True, "0 10 * * 1 (m/h/dM/MY/d) Europe/Luxembourg"),
        "loyalty.purge_idempotency_records": (True, "30 3 * * * (m/h/dM/MY/d) Europe/Luxembourg"),
        "messaging.send_queued_emails": (True, "* * * * * (m/h/dM/MY/d) Europe/Luxembourg"),
        "loyalty.refresh_analytics": (True, "10 * * * * (m/h/dM/MY/d) Europe/Luxembourg"),
    }
    assert set(rows) <= set(worker_tasks)


@pytest.mark.django_db(transaction=True)
def test_re_running_the_migration_neither_duplicates_nor_undoes_an_operators_change():
    expire = PeriodicTask.objects.get(task="loyalty.expire_points")
    expire.enabled = False
    expire.crontab.hour = "3"
    expire.crontab.save()
    expire.save()

    call_command("migrate", "loyalty", "0003_task_run", verbosity=0)
    call_command("migrate", "loyalty", verbosity=0)

    assert PeriodicTask.objects.count() == 7
    expire = PeriodicTask.objects.get(task="loyalty.expire_points")
    assert expire.enabled is False
    assert expire.crontab.hour == "3"


def local_runs_of_daily_expiry(day: datetime.date) -> list[datetime.datetime]:
    """Simulate beat from the evening before `day` to the morning after, and return the
    local times at which it sends loyalty.expire_points."""
    task = PeriodicTask.objects.get(task="loyalty.expire_points")
    start = datetime.datetime.combine(day - datetime.timedelta(days=1), datetime.time(20))
    now = start.replace(tzinfo=LUXEMBOURG).astimezone(datetime.UTC)
    end = now + datetime.timedelta(hours=36)
    task.last_run_at = now
    entry = ModelEntry(task, app=app)
    runs = []
    while now < end:
        with time_machine.travel(now, tick=False):
            is_due, next_in = entry.is_due()
            if is_due:
                runs.append(now.astimezone(LUXEMBOURG))
                entry = next(entry)
        now += min(datetime.timedelta(seconds=next_in), BEAT_MAX_INTERVAL)
    return [run for run in runs if run.date() == day]


@pytest.mark.parametrize(
    "day",
    [
        datetime.date(2026, 3, 29),  # 02:00 does not exist: clocks jump to 03:00
        datetime.date(2026, 10, 25),  # 02:00 happens twice: clocks go back at 03:00
    ],
)
def test_daily_expiry_runs_exactly_once_on_a_daylight_saving_day(day):
    runs = local_runs_of_daily_expiry(day)

    assert len(runs) == 1, runs


def test_daily_expiry_runs_at_2_am_local_time_on_an_ordinary_day():
    runs = local_runs_of_daily_expiry(datetime.date(2026, 6, 10))

    assert [run.strftime("%H:%M %z") for run in runs] == ["02:00 +0200"]


def test_the_wallet_sync_with_the_wallet_off_pushes_nothing_but_records_its_run(
    worker_tasks, settings
):
    settings.GOOGLE_WALLET_ISSUER_ID = ""

    worker_tasks["loyalty.sync_wallet_passes"].delay()

    assert list(TaskRun.objects.values_list("task", "status", "counts")) == [
        (
            "loyalty.sync_wallet_passes",
            TaskRun.Status.SUCCEEDED,
            {"pushed": 0, "failed": 0, "failed_card_ids": []},
        )
    ]


def test_the_daily_purge_deletes_idempotency_records_past_24_hours(worker_tasks, store):
    terminal_key = TerminalKeyFactory(store=store)
    now = timezone.now()
    for key, age in [("old", 24 * 60 + 1), ("edge", 24 * 60 - 1), ("new", 5)]:
        IdempotencyRecord.objects.create(
            terminal_key=terminal_key,
            key=key,
            request_digest="0" * 64,
            response_status=201,
            response_body='{"card": {"customer_first_name": "Nina"}}',
            claimed_at=now - datetime.timedelta(minutes=age),
        )

    worker_tasks["loyalty.purge_idempotency_records"].delay()

    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"edge", "new"}
    assert list(TaskRun.objects.values_list("task", "status", "counts")) == [
        ("loyalty.purge_idempotency_records", TaskRun.Status.SUCCEEDED, {"deleted": 1})
    ]


def switch_wallet_sync_on():
    importlib.import_module("loyalty.migrations.0018_wallet_sync_schedule").switch_on(apps, None)


def test_the_wallet_sync_row_made_disabled_is_switched_on_every_15_minutes():
    as_made = importlib.import_module("loyalty.migrations.0004_default_schedules").SCHEDULES
    row = PeriodicTask.objects.get(task="loyalty.sync_wallet_passes")
    row.enabled = False
    row.description = next(s for s in as_made if s["task"] == row.task)["description"]
    row.save()

    switch_wallet_sync_on()

    row.refresh_from_db()
    assert row.enabled is True
    assert str(row.crontab) == "*/15 * * * * (m/h/dM/MY/d) Europe/Luxembourg"
    assert "failed_card_ids" in row.description


def test_switching_the_wallet_sync_on_leaves_a_row_an_operator_changed():
    as_made = importlib.import_module("loyalty.migrations.0004_default_schedules").SCHEDULES
    row = PeriodicTask.objects.get(task="loyalty.sync_wallet_passes")
    row.enabled = False
    row.description = next(s for s in as_made if s["task"] == row.task)["description"]
    row.crontab.minute = "*/30"
    row.crontab.save()
    row.save()

    switch_wallet_sync_on()

    row.refresh_from_db()
    assert (row.enabled, row.crontab.minute) == (False, "*/30")
