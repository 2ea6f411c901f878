"""`/metrics` under real gunicorn with two worker processes: each worker counts in its own
file of PROMETHEUS_MULTIPROC_DIR, and a scrape answered by either adds them all up.

gunicorn is a separate process on the test database, so this needs PostgreSQL (an SQLite
test database lives in the test process's memory)."""

import glob
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.multiprocess import MultiProcessCollector

from tests.metrics_support import METRICS_TOKEN, Scrape

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", 8611
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="gunicorn's workers must reach the test database: SQLite's is in this "
        "process's memory; set DATABASE_URL",
    ),
]
HEALTHZ = {"view": "healthz", "method": "GET", "status": "200"}


@pytest.fixture
def metrics_dir(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    return directory


@pytest.fixture
def gunicorn(metrics_dir, tmp_path, test_database_url):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": test_database_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "METRICS_TOKEN": METRICS_TOKEN,
    }
    env.pop("METRICS_MULTIPROC_DIRS", None)
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", f"{HOST}:{PORT}"]
        + ["--workers", "2", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection((HOST, PORT), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def get(path: str, headers: dict | None = None) -> bytes:
    request = urllib.request.Request(f"http://{HOST}:{PORT}{path}", headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def healthz_count(files: list[str]) -> float:
    for family in MultiProcessCollector.merge(files, accumulate=True):
        for sample in family.samples:
            if sample.name == "loyalty_http_requests_total" and sample.labels == HEALTHZ:
                return sample.value
    return 0.0


def worker_files(metrics_dir: Path) -> dict[int, list[str]]:
    """Each process's metric files, by process id."""
    by_pid: dict[int, list[str]] = {}
    for path in glob.glob(str(metrics_dir / "*.db")):
        pid = int(re.search(r"_(\d+)\.db$", path).group(1))
        by_pid.setdefault(pid, []).append(path)
    return by_pid


def test_a_scrape_adds_up_what_both_gunicorn_workers_counted(gunicorn, metrics_dir, merchant):
    sent = 0
    deadline = time.monotonic() + 60
    # Concurrent requests, each on a connection of its own, until both workers have answered.
    with ThreadPoolExecutor(max_workers=4) as pool:
        while time.monotonic() < deadline:
            list(pool.map(lambda _: get("/healthz/"), range(8)))
            sent += 8
            counting = [
                pid for pid, files in worker_files(metrics_dir).items() if healthz_count(files)
            ]
            if len(counting) >= 2:
                break
    per_worker = {pid: healthz_count(files) for pid, files in worker_files(metrics_dir).items()}
    assert len([count for count in per_worker.values() if count]) == 2, per_worker

    scraped = Scrape(get("/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"}).decode())

    assert scraped.value("loyalty_http_requests_total", **HEALTHZ) == sent
    assert sum(per_worker.values()) == sent
    # The business figures come from the test database, which gunicorn reads.
    assert scraped.value("loyalty_active_programs", merchant="alice-bakery") == 0
    assert scraped.has_sample("loyalty_cards", merchant="alice-bakery")


def test_gunicorn_refuses_a_scrape_without_the_token(gunicorn):
    with pytest.raises(urllib.error.HTTPError) as refusal:
        get("/metrics")

    assert refusal.value.code == 403
    assert refusal.value.read() == b"Forbidden\n"
