"""The hourly refresh of the analytics summaries, which the merchant figures read."""

import importlib

from django.db import migrations

SCHEDULES = [
    {
        "name": "Refresh analytics summaries",
        "task": "loyalty.refresh_analytics",
        "crontab": {"minute": "10"},
        "enabled": True,
        "description": "Recompute every merchant's analytics summaries from the ledger and "
        "the cards; the figures say how fresh they are (as of).",
    },
]


def create_schedules(apps, schema_editor):
    default_schedules = importlib.import_module("loyalty.migrations.0004_default_schedules")
    default_schedules.ensure_schedules(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0023_analytics_summaries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
