"""The periodic schedules of DESIGN.md, as django-celery-beat rows that operators edit in the
admin. A row is created only when no task of that name exists, so re-running this migration
never duplicates a row nor undoes an operator's change (a disabled task stays disabled), and
unapplying it leaves the rows alone.

Only expiry is enabled: the other jobs arrive with their own issues, and their tasks do
nothing until then.
"""

import json

from django.db import migrations
from django.utils import timezone

# The merchants' default time zone (merchants.Merchant.timezone).
SCHEDULE_TIMEZONE = "Europe/Luxembourg"

SCHEDULES = [
    {
        "name": "Expire points",
        "task": "loyalty.expire_points",
        "crontab": {"minute": "0", "hour": "2"},
        "enabled": True,
        "description": "Expire the points of inactive cards and warn the cards about to expire.",
    },
    {
        "name": "Sync wallet passes",
        "task": "loyalty.sync_wallet_passes",
        "crontab": {"minute": "*/15"},
        "enabled": False,
        "description": "Push changed cards to Google Wallet. Enable once wallet sync is built.",
    },
    {
        "name": "Send birthday emails",
        "task": "loyalty.send_birthday_emails",
        "crontab": {"minute": "0", "hour": "8"},
        "enabled": False,
        "description": "Birthday emails at 08:00. Enable once birthday emails are built.",
    },
    {
        "name": "Send re-engagement emails",
        "task": "loyalty.send_reengagement_emails",
        "crontab": {"minute": "0", "hour": "10", "day_of_week": "1"},
        "enabled": False,
        "description": "Weekly, Mondays 10:00. Enable once re-engagement emails are built.",
    },
]


def ensure_schedules(apps, specs):
    """Create the row of each spec whose task has none (later schedule migrations use it)."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    created = False
    for spec in specs:
        if PeriodicTask.objects.filter(task=spec["task"]).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=spec["crontab"].get("minute", "*"),
            hour=spec["crontab"].get("hour", "*"),
            day_of_month="*",
            month_of_year="*",
            day_of_week=spec["crontab"].get("day_of_week", "*"),
            timezone=SCHEDULE_TIMEZONE,
        )
        PeriodicTask.objects.create(
            name=spec["name"],
            task=spec["task"],
            crontab=crontab,
            enabled=spec["enabled"],
            description=spec["description"],
            args=json.dumps([]),
            kwargs=json.dumps({}),
        )
        created = True
    if created:
        # A running beat reloads its schedule when this timestamp moves (the model's own
        # signal does not fire for the historical models a migration uses).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def create_schedules(apps, schema_editor):
    ensure_schedules(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0003_task_run"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
