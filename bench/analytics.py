"""Benchmark of the merchant analytics API, on PostgreSQL.

    .venv/bin/python bench/analytics.py [--database-url postgres://.../loyalty_bench_analytics]
        [--cards 100000] [--rows 5000000] [--reuse-data] [--reuse-summaries] [--earns 400]

Builds (unless --reuse-data, which keeps the database of an earlier run) two merchants with
three stores each and half the cards each, and the ledger rows spread over two years with
set-based SQL (generate_series): a welcome bonus at enrolment, then earns with purchase
amounts, redemptions, stamps, stamp rewards, adjustments and expiry; one card in five stops
visiting halfway through its life, so churn has something to find. Then it prints:

1. the refresh of each merchant's analytics summaries (what the hourly job does), timed,
   unless --reuse-summaries keeps those of an earlier run; then VACUUM ANALYZE of the
   summary tables, as autovacuum does after a rewrite;
2. each endpoint's time for the larger merchant over the default range (the last twelve
   months), through Django's test client as an operator: cold (the first request, on a new
   database connection, so with no plan cached) and warm (the median of the next three). The
   database's buffers and the operating system's cache are not emptied: the machine is
   shared, and the database was just loaded and vacuumed;
3. the earn path: the mean time of an earn through the ledger service (`earn_points`: one
   card locked, one row written), --earns earns in blocks, on their own and then while a
   refresh of the larger merchant runs on another connection.
"""

import argparse
import datetime
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.expire import recreate_database, setup_django  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_analytics"
ENDPOINTS = ("cohorts", "churn", "revenue", "health")
WARM_RUNS = 3
EARN_BLOCKS = 2
SUMMARY_TABLES = (
    "loyalty_analyticsday",
    "loyalty_analyticscardmonth",
    "loyalty_analyticscardstoremonth",
    "loyalty_analyticscardvisits",
    "loyalty_analyticssnapshot",
)


def load_merchant(*, slug: str, cards: int, rows_per_card: int, now: datetime.datetime) -> None:
    """A merchant with three stores and a hybrid programme (stamps target 10), `cards` cards
    enrolled over the last two years, and `rows_per_card` ledger rows per card."""
    from django.db import connection

    from loyalty.models import Program
    from merchants.models import Merchant, Store

    merchant = Merchant.objects.create(slug=slug, name=slug.title(), timezone="Europe/Luxembourg")
    stores = [
        Store.objects.create(merchant=merchant, code=code, name=code.title())
        for code in ("main", "north", "south")
    ]
    program = Program.objects.create(
        merchant=merchant, name="Rewards", kind=Program.Kind.HYBRID, stamps_target=10
    )
    params = {
        "m": merchant.pk,
        "p": program.pk,
        "s0": stores[0].pk,
        "s1": stores[1].pk,
        "s2": stores[2].pk,
        "n": cards,
        "k": rows_per_card,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (merchant_id, email, first_name, last_name, phone,
                locale, marketing_consent, created_at)
            SELECT %(m)s, 'customer' || i || '@example.com', 'First' || i, 'Bench', '', 'en',
                false, %(now)s
            FROM generate_series(1, %(n)s) AS i
            """,
            params,
        )
        # Enrolments spread over 730 days, a little denser lately; stores in turn.
        cursor.execute(
            """
            INSERT INTO loyalty_card (program_id, customer_id, enrolled_store_id, number,
                link_key, wallet_pass_state, points_balance, stamp_count, lifetime_points_earned,
                lifetime_points_redeemed,
                lifetime_points_voided, lifetime_points_expired, last_activity_at, is_active,
                created_at)
            SELECT %(p)s, c.id, (ARRAY[%(s0)s, %(s1)s, %(s2)s])[1 + c.id %% 3],
                lpad((%(p)s::bigint * 10000000 + c.id)::text, 12, '0'),
                gen_random_uuid(), '', 1000, 0, 1000, 0, 0, 0, %(now)s, true,
                %(now)s - interval '730 days' * sqrt(((c.id * 7919) %% 10007) / 10007.0)
                    - (c.id %% 86400) * interval '1 second'
            FROM customers_customer AS c
            WHERE c.merchant_id = %(m)s
            ORDER BY c.id
            """,
            params,
        )
        # Row j of a card falls at fraction j/k of its life (one card in five: of the first
        # half of it), with a few hours' jitter; the types mix by a hash of card and row.
        cursor.execute(
            """
            INSERT INTO loyalty_transaction (card_id, merchant_id, store_id, type,
                points_delta, points_balance_after, stamps_delta, stamps_balance_after,
                purchase_amount_cents, order_reference, reason, notes, created_at)
            SELECT card.id, %(m)s,
                CASE WHEN kind = 'points_expired' THEN NULL
                     ELSE (ARRAY[%(s0)s, %(s1)s, %(s2)s])[1 + (card.id + j) %% 3] END,
                kind,
                CASE kind WHEN 'welcome_bonus' THEN 50 WHEN 'points_earned' THEN amount / 100
                          WHEN 'points_redeemed' THEN -100 WHEN 'points_expired' THEN -20
                          ELSE 0 END,
                1000, CASE WHEN kind = 'stamp_earned' THEN 1 ELSE 0 END, j %% 11,
                CASE WHEN kind = 'points_earned' THEN amount END, '', '', '',
                CASE WHEN j = 1 THEN card.created_at
                     ELSE card.created_at + (%(now)s - card.created_at)
                          * (CASE WHEN card.id %% 5 = 0 THEN 0.5 ELSE 1.0 END)
                          * (j - 1) / %(k)s
                          + ((card.id * j) %% 300) * interval '1 minute' END
            FROM loyalty_card AS card
            CROSS JOIN LATERAL generate_series(1, %(k)s) AS j
            CROSS JOIN LATERAL (
                SELECT CASE WHEN j = 1 THEN 'welcome_bonus'
                    ELSE (ARRAY['points_earned', 'points_earned', 'points_earned',
                                'points_earned', 'points_earned', 'points_earned',
                                'points_earned', 'points_redeemed', 'stamp_earned',
                                'stamp_earned', 'stamp_earned', 'stamp_redeemed',
                                'points_expired', 'points_adjusted'])
                         [1 + ((card.id * 31 + j * 17) %% 14)] END AS kind,
                    500 + ((card.id * 131 + j * 977) %% 9500) AS amount
            ) AS row
            WHERE card.program_id = %(p)s
            """,
            params,
        )


def build(args, now: datetime.datetime) -> None:
    from django.db import connection

    per_merchant = args.cards // 2
    rows_per_card = args.rows // args.cards
    print(
        f"Loading 2 merchants x {per_merchant:,} cards x {rows_per_card} ledger rows "
        f"= {per_merchant * 2 * rows_per_card:,} rows ..."
    )
    started = time.perf_counter()
    for slug in ("bench-large", "bench-rival"):
        load_merchant(slug=slug, cards=per_merchant, rows_per_card=rows_per_card, now=now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  loaded and vacuumed in {time.perf_counter() - started:.1f} s")


def time_endpoints(client) -> dict[str, tuple[float, float]]:
    """Cold (first request on a new connection) and warm (median of the next ones), in s."""
    from django.db import connection

    connection.close()
    times = {}
    for name in ENDPOINTS:
        connection.close()
        runs = []
        for _ in range(1 + WARM_RUNS):
            started = time.perf_counter()
            response = client.get(
                f"/api/v1/merchant/analytics/{name}/", {"merchant": "bench-large"}
            )
            runs.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content
        times[name] = (runs[0], statistics.median(runs[1:]))
    return times


def refresh(as_of: datetime.datetime) -> None:
    """Every merchant's summaries, as the hourly job refreshes them, each timed."""
    from django.db import connection

    from loyalty.services.analytics_summaries import refresh_analytics
    from merchants.models import Merchant

    for merchant in Merchant.objects.order_by("pk"):
        started = time.perf_counter()
        counts = refresh_analytics(merchant=merchant, as_of=as_of)
        print(
            f"  refreshed {merchant.slug} in {time.perf_counter() - started:.1f} s: "
            + ", ".join(f"{count:,} {name}" for name, count in counts.items()),
            flush=True,
        )
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {', '.join(SUMMARY_TABLES)}")
    print(f"  VACUUM ANALYZE of the summaries: {time.perf_counter() - started:.1f} s")


def refresh_in_background(done: threading.Event) -> threading.Thread:
    """A refresh of the larger merchant on its own connection, setting `done` at the end."""

    def run() -> None:
        from django.db import connection

        from loyalty.services.analytics_summaries import refresh_analytics
        from merchants.models import Merchant

        try:
            refresh_analytics(
                merchant=Merchant.objects.get(slug="bench-large"),
                as_of=datetime.datetime.now(datetime.UTC),
            )
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def earn_loop(earns: int) -> float:
    """Mean seconds per earn through the ledger service, over `earns` cards of the large
    merchant taken in turn."""
    from loyalty.models import Card
    from loyalty.services.ledger import earn_points

    cards = list(
        Card.objects.select_related("enrolled_store")
        .filter(program__merchant__slug="bench-large")
        .order_by("?")[:earns]
    )
    started = time.perf_counter()
    for card in cards:
        earn_points(card=card, store=card.enrolled_store, purchase_amount_cents=1234)
    return (time.perf_counter() - started) / len(cards)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--earns", type=int, default=400, help="0: no earn loop.")
    parser.add_argument(
        "--reuse-data", action="store_true", help="Keep the database an earlier run built."
    )
    parser.add_argument(
        "--reuse-summaries",
        action="store_true",
        help="Keep the analytics summaries an earlier run refreshed (with --reuse-data).",
    )
    args = parser.parse_args()

    if not args.reuse_data:
        recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    # Also brings a reused database up to date.
    call_command("migrate", verbosity=0)

    now = datetime.datetime.now(datetime.UTC)
    if not args.reuse_data:
        build(args, now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM loyalty_card")
        cards = cursor.fetchone()[0]
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'loyalty_transaction'"
        )
        rows = cursor.fetchone()[0]
    print(f"cards: {cards:,}; ledger rows: about {rows:,}")

    if not (args.reuse_data and args.reuse_summaries):
        print("\nrefresh of the analytics summaries:")
        refresh(datetime.datetime.now(datetime.UTC))

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    times = time_endpoints(client)
    print("\nendpoint (large merchant, last 12 months): cold / warm")
    for name in ENDPOINTS:
        cold, warm = times[name]
        print(f"  {name:<8} {cold * 1000:>6.0f} ms / {warm * 1000:>6.0f} ms")

    if not args.earns:
        return
    per_block = max(1, args.earns // EARN_BLOCKS)
    alone = [earn_loop(per_block) for _ in range(EARN_BLOCKS)]
    # While a refresh runs: blocks until it ends (at least one).
    done = threading.Event()
    thread = refresh_in_background(done)
    during = [earn_loop(per_block)]
    while not done.is_set():
        during.append(earn_loop(per_block))
    thread.join()
    print(f"\nearn through the ledger service, blocks of {per_block} earns:")
    for label, means in (("alone", alone), ("during a refresh", during)):
        print(
            f"  {label + ':':<18} {statistics.mean(means) * 1000:.2f} ms per earn "
            f"({len(means)} blocks, {min(means) * 1000:.2f} to {max(means) * 1000:.2f})"
        )


if __name__ == "__main__":
    main()
