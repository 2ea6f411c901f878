"""A real Celery worker on a real Redis broker runs the nightly expiry, records it, and counts
it in the metrics directory the web processes read (`/metrics`).

The worker is a separate process on the test database, so this needs PostgreSQL. It uses
REDIS_URL (default: Redis database 4) and a queue of its own, and skips when Redis does not
answer."""

import datetime
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import time_machine
from celery import Celery
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config import logs
from loyalty.models import TaskRun, TransactionType
from loyalty.services.ledger import earn_points
from loyalty.tasks import EXPIRE_POINTS
from tests.factories import CardFactory, ProgramFactory
from tests.metrics_support import METRICS_TOKEN, scrape
from tests.redis_support import REDIS_URL, redis_answers

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not redis_answers(), reason=f"needs Redis at {REDIS_URL}"),
]


@pytest.fixture
def queue():
    return f"test-worker-{uuid.uuid4().hex}"


@pytest.fixture
def worker(queue, tmp_path, test_database_url):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": test_database_url,
        "CELERY_BROKER_URL": REDIS_URL,
        # The production format: the request-id test reads the worker's records.
        "LOG_FORMAT": "json",
        # The directory this test session's own metrics go to, as a worker on the same host
        # shares the web processes' (config/settings_test.py).
        "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"],
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "-Q", queue]
        + ["--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / "worker.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    process.log = tmp_path / "worker.log"
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    redis.Redis.from_url(REDIS_URL).delete(queue)


def test_the_worker_runs_the_scheduled_expiry_and_records_it(schedules, worker, queue):
    expire_schedule = PeriodicTask.objects.get(task=EXPIRE_POINTS)
    assert expire_schedule.enabled
    program = ProgramFactory(points_expiration_days=30)
    card = CardFactory(program=program)
    with time_machine.travel(datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)):
        earn_points(card=card, store=None, points=25)

    # Not the current app: the project's app stays current for the tests that follow in this
    # process (mutmut runs several test sessions in one).
    Celery(broker=REDIS_URL, set_as_current=False).send_task(expire_schedule.task, queue=queue)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        run = TaskRun.objects.filter(task=EXPIRE_POINTS).exclude(status="running").first()
        if run is not None:
            break
        time.sleep(0.2)
    else:
        worker.terminate()
        pytest.fail(f"no finished run recorded; worker output:\n{worker.log.read_text()}")
    assert run.status == TaskRun.Status.SUCCEEDED, run.error
    assert run.counts == {"programs": 1, "cards": 1, "points": 25, "warnings": 0}
    card.refresh_from_db()
    assert card.points_balance == 0
    assert card.transactions.filter(type=TransactionType.POINTS_EXPIRED).count() == 1


def wait_for_the_run(worker) -> TaskRun:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        run = TaskRun.objects.filter(task=EXPIRE_POINTS).exclude(status="running").first()
        if run is not None:
            return run
        time.sleep(0.2)
    worker.terminate()
    pytest.fail(f"no finished run recorded; worker output:\n{worker.log.read_text()}")


def test_a_task_queued_during_a_request_logs_with_the_requests_id(worker, queue):
    program = ProgramFactory(points_expiration_days=30)
    card = CardFactory(program=program)
    with time_machine.travel(datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=40)):
        earn_points(card=card, store=None, points=25)

    # As in a request: the id is in the context when the task is queued.
    token = logs.request_id.set("till-7.req_42")
    try:
        Celery(broker=REDIS_URL, set_as_current=False).send_task(EXPIRE_POINTS, queue=queue)
    finally:
        logs.request_id.reset(token)

    assert wait_for_the_run(worker).status == TaskRun.Status.SUCCEEDED
    records = [
        json.loads(line) for line in worker.log.read_text().splitlines() if line.startswith("{")
    ]
    (chunk,) = [record for record in records if record.get("event") == "expiry_chunk"]
    assert (chunk["request_id"], chunk["chunk_cards"], chunk["chunk_points"]) == (
        "till-7.req_42",
        1,
        25,
    )


def test_readyz_is_ok_when_the_broker_answers(client, settings):
    TaskRun.objects.create(
        task=EXPIRE_POINTS,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status=TaskRun.Status.SUCCEEDED,
    )
    settings.CELERY_BROKER_URL = REDIS_URL

    response = client.get("/readyz/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_run_in_the_worker_shows_in_metrics(schedules, worker, queue, client, settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    ProgramFactory(points_expiration_days=30)
    runs = {"task": EXPIRE_POINTS, "outcome": "succeeded"}
    before = scrape(client).value("loyalty_task_runs_total", **runs)

    Celery(broker=REDIS_URL, set_as_current=False).send_task(EXPIRE_POINTS, queue=queue)

    # The worker counts the run once it has returned, just after it recorded it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        after = scrape(client)
        if after.value("loyalty_task_runs_total", **runs) > before:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the run never showed in /metrics; worker output:\n{worker.log.read_text()}")
    run = TaskRun.objects.get(task=EXPIRE_POINTS)
    assert after.value("loyalty_task_runs_total", **runs) == before + 1
    assert after.value("loyalty_task_duration_seconds_count", task=EXPIRE_POINTS) >= 1
    assert (
        after.value("loyalty_task_last_success_timestamp_seconds", task=EXPIRE_POINTS)
        == run.finished_at.timestamp()
    )
