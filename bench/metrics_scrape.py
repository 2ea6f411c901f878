#!/usr/bin/env python3
"""How long a Prometheus scrape of `/metrics` takes, with 10 merchants and 1,000 stores.

    .venv/bin/python bench/metrics_scrape.py --database-url postgres://.../loyalty_metrics
        [--cards-per-merchant 10000] [--rows-per-card 10] [--reuse-data]

Recreates the PostgreSQL database named (unless --reuse-data) and loads 10 merchants with 100
stores and a programme each, their cards spread over the stores and ledger rows per card
(set-based SQL: earns, redemptions, stamps, stamp rewards, adjustments, expiry, over two
years). Then it times `GET /metrics` through Django's test client, with the cache and the broker on
Redis (default database 11) as production has them; no worker runs, and the task a scrape
queues is dropped at the end:

1. cold: nothing cached, a new database connection, so the scrape asks a worker for the
   business figures and answers without them (after a first request to /healthz/, which
   loads the URLconf and the views, as any process's first request does);
2. the worker's read of the figures (`loyalty.refresh_metrics_figures`), churn risk included,
   and its read once a minute, churn risk kept (counted every 15 minutes);
3. cached: the median of 20 scrapes with the figures in the cache (what every scrape costs);
4. the same once the process has moved the counters a busy platform's processes have (a
   ledger row, a 429 and a PIN lockout at every store, every task and email template): one
   series per store and label set in its multiprocess file, which every scrape reads and
   prints (the client's cost, per series and per process file).
"""

import argparse
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MERCHANTS = 10
STORES_PER_MERCHANT = 100
TOKEN = "benchmark-metrics-token-benchmark-metrics-token"


def recreate_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(database_url: str, redis_url: str, metrics_dir: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "CACHE_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            # Set before prometheus_client is imported, as in the web processes.
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            "METRICS_TOKEN": TOKEN,
            "DJANGO_SECRET_KEY": "benchmark",
            "PIN_SECRET": "benchmark-only-pin-secret-benchmark-only-pin-secret",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "testserver",
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    import django

    django.setup()


def load(*, cards: int, rows_per_card: int, now: datetime.datetime) -> None:
    from django.db import connection

    from loyalty.models import Program
    from merchants.models import Merchant, Store

    for m in range(MERCHANTS):
        merchant = Merchant.objects.create(slug=f"merchant-{m}", name=f"Merchant {m}")
        Store.objects.bulk_create(
            Store(merchant=merchant, code=f"store-{s}", name=f"Store {s}")
            for s in range(STORES_PER_MERCHANT)
        )
        program = Program.objects.create(
            merchant=merchant, name="Rewards", kind=Program.Kind.HYBRID, stamps_target=10
        )
        params = {"m": merchant.pk, "p": program.pk, "n": cards, "k": rows_per_card, "now": now}
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO customers_customer (merchant_id, email, first_name, last_name,
                    phone, locale, marketing_consent, created_at)
                SELECT %(m)s, 'customer' || i || '@example.com', 'First' || i, 'Bench', '',
                    'en', false, %(now)s
                FROM generate_series(1, %(n)s) AS i
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO loyalty_card (program_id, customer_id, enrolled_store_id, number,
                    link_key, wallet_pass_state, points_balance, stamp_count,
                    lifetime_points_earned, lifetime_points_redeemed, lifetime_points_voided,
                    lifetime_points_expired, last_activity_at, is_active, created_at)
                SELECT %(p)s, c.id, stores.ids[1 + c.id %% array_length(stores.ids, 1)],
                    lpad((%(p)s::bigint * 10000000 + c.id)::text, 12, '0'), gen_random_uuid(),
                    CASE WHEN c.id %% 7 = 0 THEN 'synced' ELSE '' END, 100, 0, 500, 300, 0, 100,
                    %(now)s - (c.id %% 90) * interval '1 day', c.id %% 50 <> 0,
                    %(now)s - interval '730 days' * ((c.id * 7919) %% 10007) / 10007.0
                FROM customers_customer AS c,
                    (SELECT array_agg(id ORDER BY id) AS ids FROM merchants_store
                     WHERE merchant_id = %(m)s) AS stores
                WHERE c.merchant_id = %(m)s
                """,
                params,
            )
            cursor.execute(
                """
                INSERT INTO loyalty_transaction (card_id, merchant_id, store_id, type,
                    points_delta, points_balance_after, stamps_delta, stamps_balance_after,
                    purchase_amount_cents, order_reference, reason, notes, created_at)
                SELECT card.id, %(m)s, card.enrolled_store_id, kind,
                    CASE kind WHEN 'points_earned' THEN 20 WHEN 'points_redeemed' THEN -100
                              WHEN 'points_expired' THEN -20 WHEN 'points_adjusted' THEN 5
                              ELSE 0 END,
                    1000, CASE WHEN kind = 'stamp_earned' THEN 1 ELSE 0 END, j %% 11,
                    CASE WHEN kind = 'points_earned' THEN 2000 END, '', '', '',
                    card.created_at + (%(now)s - card.created_at)
                        * (CASE WHEN card.id %% 5 = 0 THEN 0.5 ELSE 1.0 END) * j / %(k)s
                FROM loyalty_card AS card
                CROSS JOIN LATERAL generate_series(1, %(k)s) AS j
                CROSS JOIN LATERAL (
                    SELECT (ARRAY['points_earned', 'points_earned', 'points_earned',
                                  'points_earned', 'points_redeemed', 'stamp_earned',
                                  'stamp_earned', 'stamp_redeemed', 'points_expired',
                                  'points_adjusted'])[1 + ((card.id * 31 + j * 17) %% 10)]
                        AS kind
                ) AS row
                WHERE card.program_id = %(p)s
                """,
                params,
            )
        print(f"  {merchant.slug}: {STORES_PER_MERCHANT} stores, {cards} cards", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def move_every_counter() -> None:
    """One series per store for each per-store counter, and every task and template."""
    from config.metrics import HTTP_LATENCY, HTTP_REQUESTS
    from loyalty import emails, metrics
    from loyalty.metrics.tasks import TASK_DURATION, TASK_RUNS, WATCHED_TASKS
    from merchants.models import Store
    from messaging.metrics import EMAILS

    for store in Store.objects.select_related("merchant"):
        merchant, code = store.merchant.slug, store.code
        metrics.TRANSACTIONS.labels(merchant, code, "points_earned").inc()
        metrics.RATE_LIMITED.labels(merchant, code).inc()
        metrics.PIN_LOCKOUTS.labels(merchant, code).inc()
        metrics.ENROLMENT_FUNNEL.labels(merchant, "page_view").inc()
    for view in ["terminal-card-earn", "terminal-card-redeem", "terminal-card-detail"]:
        HTTP_REQUESTS.labels(view, "POST", "201").inc()
        HTTP_LATENCY.labels(view, "POST").observe(0.02)
    for task in WATCHED_TASKS:
        TASK_RUNS.labels(task, "succeeded").inc()
        TASK_DURATION.labels(task).observe(1.5)
    for template in [emails.ENROLLMENT, emails.WELCOME_BONUS, emails.REWARD_READY]:
        for status in ["queued", "sent", "delivered", "opened"]:
            EMAILS.labels(template, status).inc()


def scrape(client) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return elapsed, response.content


def samples(body: bytes) -> int:
    return sum(1 for line in body.decode().splitlines() if line and not line.startswith("#"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--cards-per-merchant", type=int, default=10_000)
    parser.add_argument("--rows-per-card", type=int, default=10)
    parser.add_argument("--reuse-data", action="store_true")
    args = parser.parse_args()

    metrics_dir = tempfile.mkdtemp(prefix="loyalty-bench-metrics-")
    try:
        if not args.reuse_data:
            recreate_database(args.database_url)
        setup_django(args.database_url, args.redis_url, metrics_dir)
        from django.core.cache import cache
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client

        from loyalty.models import Card, Transaction
        from merchants.models import Store

        call_command("migrate", verbosity=0)
        if not args.reuse_data:
            print(f"Loading {MERCHANTS} merchants ...", flush=True)
            load(
                cards=args.cards_per_merchant,
                rows_per_card=args.rows_per_card,
                now=datetime.datetime.now(datetime.UTC),
            )
        print(
            f"{Store.objects.count()} stores, {Card.all_objects.count()} cards, "
            f"{Transaction.objects.count()} ledger rows",
            flush=True,
        )
        from loyalty.metrics.figures import store_figures
        from loyalty.services.analytics_summaries import refresh_all_analytics

        # Churn risk reads the analytics' summaries, which the hourly job keeps.
        refresh_all_analytics(as_of=datetime.datetime.now(datetime.UTC))

        client = Client()
        # The process's first request loads the URLconf and every view: not the scrape's cost.
        client.get("/healthz/")
        cache.clear()
        connection.close()
        cold, _ = scrape(client)
        started = time.perf_counter()
        store_figures()
        first_read = time.perf_counter() - started
        started = time.perf_counter()
        store_figures()
        read_again = time.perf_counter() - started
        cached, body = scrape(client)
        cached = statistics.median(scrape(client)[0] for _ in range(20))
        print(f"scrape body: {len(body) / 1024:.0f} KiB, {samples(body)} samples")
        print(f"scrape, cold (nothing cached, new connection): {cold * 1000:7.1f} ms")
        print(f"scrape, figures cached (median of 20):         {cached * 1000:7.1f} ms")
        print(f"worker's read of the figures, churn risk too:  {first_read * 1000:7.1f} ms")
        print(f"worker's read once a minute, churn risk kept:  {read_again * 1000:7.1f} ms")
        move_every_counter()
        _, body = scrape(client)
        busy = statistics.median(scrape(client)[0] for _ in range(20))
        print(
            f"cached, with a series per store ({len(body) / 1024:.0f} KiB, {samples(body)} "
            f"samples): {busy * 1000:.1f} ms"
        )
        cache.clear()
        redis.Redis.from_url(args.redis_url).delete("celery")
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
