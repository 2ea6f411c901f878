"""The Celery app. Its configuration is the CELERY_* settings in config/settings.py: JSON
only, time limits on every task, eager in-process when no broker is configured. Tasks are
found in each app's tasks.py; the periodic schedule is in the database (django-celery-beat).
"""

import os

from celery import Celery, signals

from config import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("loyalty")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def keep_django_logging(**kwargs) -> None:
    """Workers and beat log through Django's LOGGING (format, masking, request ids), not
    through a configuration of Celery's own: a receiver here tells Celery to leave logging be."""


# A task carries the id of the request that queued it (README, "Logs").
signals.before_task_publish.connect(logs.add_request_id_header, weak=False)
signals.task_prerun.connect(logs.enter_task, weak=False)
signals.task_postrun.connect(logs.leave_task, weak=False)
