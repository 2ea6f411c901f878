"""Email schedules: the sender every minute, and the birthday and re-engagement jobs, which
0004 created disabled until they were built, switched on.

Birthday emails go out at 08:00 in each merchant's own time zone, so that job now runs
hourly and each run serves the time zones where it is 08:00 or later. A row is switched on
(and the birthday row made hourly) only while it is still exactly as 0004 made it: a row an
operator changed in any way is left as it is.
"""

import importlib

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    {
        "name": "Send queued emails",
        "task": "messaging.send_queued_emails",
        "crontab": {"minute": "*"},
        "enabled": True,
        "description": "Send the due emails of the outbox (retries, and anything a kick missed).",
    },
]

# task -> (the crontab 0004 made, the crontab now, the description now)
SWITCH_ON = {
    "loyalty.send_birthday_emails": (
        {"minute": "0", "hour": "8", "day_of_week": "*"},
        {"minute": "0", "hour": "*", "day_of_week": "*"},
        "Birthday emails, hourly: each run serves the merchants whose local time is 08:00 "
        "or later, once per customer and year.",
    ),
    "loyalty.send_reengagement_emails": (
        {"minute": "0", "hour": "10", "day_of_week": "1"},
        {"minute": "0", "hour": "10", "day_of_week": "1"},
        "Weekly, Mondays 10:00: re-engagement emails to cards inactive longer than their "
        "programme's setting.",
    ),
}


def update_schedules(apps, schema_editor):
    default_schedules = importlib.import_module("loyalty.migrations.0004_default_schedules")
    default_schedules.ensure_schedules(apps, SCHEDULES)
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    as_made = {spec["task"]: spec for spec in default_schedules.SCHEDULES}
    changed = False
    for task, (old_crontab, new_crontab, description) in SWITCH_ON.items():
        row = PeriodicTask.objects.filter(
            task=task, enabled=False, description=as_made[task]["description"]
        ).first()
        if row is None or row.crontab is None or not _is(row.crontab, old_crontab):
            continue
        row.crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=new_crontab["minute"],
            hour=new_crontab["hour"],
            day_of_month="*",
            month_of_year="*",
            day_of_week=new_crontab["day_of_week"],
            timezone=default_schedules.SCHEDULE_TIMEZONE,
        )
        row.enabled = True
        row.description = description
        row.save()
        changed = True
    if changed:
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _is(crontab, spec) -> bool:
    return (
        crontab.minute == spec["minute"]
        and crontab.hour == spec["hour"]
        and crontab.day_of_week == spec["day_of_week"]
        and crontab.day_of_month == "*"
        and crontab.month_of_year == "*"
        and str(crontab.timezone) == "Europe/Luxembourg"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0015_default_email_templates"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(update_schedules, migrations.RunPython.noop)]
