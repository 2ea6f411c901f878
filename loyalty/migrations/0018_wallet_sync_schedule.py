"""Wallet sync built: its schedule row, which 0004 made disabled, switched on (every 15
minutes). A row is switched on only while it is still exactly as 0004 made it: a row an
operator changed in any way is left as it is. Where no row exists, it is made enabled."""

import importlib

from django.db import migrations
from django.utils import timezone

TASK = "loyalty.sync_wallet_passes"
DESCRIPTION = (
    "Push the stale Google Wallet passes (any a push after commit missed), with backoff; "
    "the run records failed_card_ids."
)


def switch_on(apps, schema_editor):
    default_schedules = importlib.import_module("loyalty.migrations.0004_default_schedules")
    as_made = next(spec for spec in default_schedules.SCHEDULES if spec["task"] == TASK)
    default_schedules.ensure_schedules(
        apps, [{**as_made, "enabled": True, "description": DESCRIPTION}]
    )
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    row = PeriodicTask.objects.filter(
        task=TASK, enabled=False, description=as_made["description"]
    ).first()
    if row is None or row.crontab is None or not _as_made(row.crontab):
        return
    row.enabled = True
    row.description = DESCRIPTION
    row.save()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def _as_made(crontab) -> bool:
    return (
        crontab.minute == "*/15"
        and crontab.hour == "*"
        and crontab.day_of_week == "*"
        and crontab.day_of_month == "*"
        and crontab.month_of_year == "*"
        and str(crontab.timezone) == "Europe/Luxembourg"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0017_wallet_passes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(switch_on, migrations.RunPython.noop)]
