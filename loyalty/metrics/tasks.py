"""Runs of the periodic jobs the runbook watches, counted from Celery's signals: the tasks
stay as they are, and a run counts however it was started (beat, a kick after a commit,
eagerly in-process). Imported by the app's ready(), which connects the signals."""

import time

from celery import states
from celery.signals import task_postrun, task_prerun
from django.core.cache import cache
from prometheus_client import Counter, Histogram

from loyalty.metrics import FAILED, SUCCEEDED
from loyalty.tasks import (
    EXPIRE_POINTS,
    SEND_BIRTHDAY_EMAILS,
    SEND_REENGAGEMENT_EMAILS,
    SYNC_WALLET_PASSES,
)
from messaging.tasks import SEND_QUEUED_EMAILS

TASK_RUNS = Counter(
    "loyalty_task_runs_total", "Finished runs of periodic jobs.", ["task", "outcome"]
)
TASK_DURATION = Histogram(
    "loyalty_task_duration_seconds",
    "Duration of the periodic jobs' runs.",
    ["task"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600),
)

WATCHED_TASKS = (
    EXPIRE_POINTS,
    SYNC_WALLET_PASSES,
    SEND_QUEUED_EMAILS,
    SEND_BIRTHDAY_EMAILS,
    SEND_REENGAGEMENT_EMAILS,
)
# All but the email sender record a TaskRun row, where their last success is read. The sender
# runs every minute and keeps no rows (that would be half a million a year): its last success
# goes to the shared cache (CACHE_URL), where every process reads it.
RECORDED_TASKS = tuple(task for task in WATCHED_TASKS if task != SEND_QUEUED_EMAILS)
SENDER_LAST_SUCCESS_KEY = "metrics:last-success:" + SEND_QUEUED_EMAILS
# Every task's series from the start, at zero: a rate over a series that does not exist yet
# is no rate at all.
for _task in WATCHED_TASKS:
    for _outcome in (SUCCEEDED, FAILED):
        TASK_RUNS.labels(_task, _outcome)

_starts: dict[str, float] = {}


@task_prerun.connect(dispatch_uid="loyalty.metrics.task_started")
def _task_started(task_id=None, task=None, **kwargs) -> None:
    if task is not None and task.name in WATCHED_TASKS:
        _starts[task_id] = time.monotonic()


@task_postrun.connect(dispatch_uid="loyalty.metrics.task_finished")
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    started = _starts.pop(task_id, None)
    if started is None:
        return
    outcome = SUCCEEDED if state == states.SUCCESS else FAILED
    TASK_RUNS.labels(task.name, outcome).inc()
    TASK_DURATION.labels(task.name).observe(time.monotonic() - started)
    if task.name == SEND_QUEUED_EMAILS and outcome == SUCCEEDED:
        cache.set(SENDER_LAST_SUCCESS_KEY, time.time(), timeout=None)
