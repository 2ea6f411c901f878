"""The record of periodic job runs, which monitoring reads (`/readyz/`)."""

import traceback
from collections.abc import Callable

from django.utils import timezone

from loyalty.models import TaskRun


def run_recorded(*, task: str, work: Callable[[], dict], scope: str = "") -> dict:
    """Run `work`, recording its start, end, outcome and the counts it returns.

    The record is written outside the work's own transactions, so a failed run is recorded
    as failed and a killed one stays `running`."""
    run = TaskRun.objects.create(task=task, scope=scope, started_at=timezone.now())
    try:
        counts = work()
    except BaseException:
        # BaseException: a time limit or a shutdown is a failure of the run too.
        run.status = TaskRun.Status.FAILED
        run.error = traceback.format_exc(limit=20)
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    run.status = TaskRun.Status.SUCCEEDED
    run.counts = counts
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "counts", "finished_at"])
    return counts
