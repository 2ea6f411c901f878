"""Health endpoints for load balancers and monitoring; outside any authentication.

`/healthz/`: liveness, the process answers. `/readyz/`: the database and the broker answer and
the nightly expiry succeeded within EXPIRY_MAX_AGE.
"""

import datetime

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app
from loyalty.models import TaskRun
from loyalty.tasks import EXPIRE_POINTS

# A daily job, with two hours' grace for a slow or late run.
EXPIRY_MAX_AGE = datetime.timedelta(hours=26)
BROKER_TIMEOUT_SECONDS = 2


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    reasons = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        reasons.append(f"database unreachable: {exc}")
    else:
        reasons += _expiry_reasons()
    if settings.CELERY_BROKER_URL:
        try:
            with app.connection_for_write(
                settings.CELERY_BROKER_URL,
                transport_options={
                    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                    "socket_timeout": BROKER_TIMEOUT_SECONDS,
                },
            ) as broker:
                broker.ensure_connection(max_retries=0)
        except Exception as exc:  # kombu raises transport-specific errors
            reasons.append(f"broker unreachable: {exc}")
    if reasons:
        return JsonResponse({"status": "unavailable", "reasons": reasons}, status=503)
    return JsonResponse({"status": "ok"})


def _expiry_reasons() -> list[str]:
    last_success = (
        TaskRun.objects.filter(task=EXPIRE_POINTS, scope="", status=TaskRun.Status.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    if last_success is None:
        return [f"{EXPIRE_POINTS} has never succeeded"]
    if timezone.now() - last_success > EXPIRY_MAX_AGE:
        return [f"{EXPIRE_POINTS} last succeeded at {last_success.isoformat()}"]
    return []
