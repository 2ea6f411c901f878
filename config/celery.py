"""The Celery app. Its configuration is the CELERY_* settings in config/settings.py: JSON
only, time limits on every task, eager in-process when no broker is configured. Tasks are
found in each app's tasks.py; the periodic schedule is in the database (django-celery-beat).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
