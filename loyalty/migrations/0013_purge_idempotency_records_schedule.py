"""The daily purge of idempotency records past their 24 hours: their stored responses hold
customers' first names, and they are of no use once a retry would no longer replay them."""

import importlib

from django.db import migrations

SCHEDULES = [
    {
        "name": "Purge idempotency records",
        "task": "loyalty.purge_idempotency_records",
        "crontab": {"minute": "30", "hour": "3"},
        "enabled": True,
        "description": "Delete terminal idempotency records older than 24 hours.",
    },
]


def create_schedules(apps, schema_editor):
    default_schedules = importlib.import_module("loyalty.migrations.0004_default_schedules")
    default_schedules.ensure_schedules(apps, SCHEDULES)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0012_ledger_refuses_truncate"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, migrations.RunPython.noop)]
