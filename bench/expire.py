"""Benchmark of point expiration, on PostgreSQL.

    .venv/bin/python bench/expire.py [--cards 1000000] [--database-url postgres://.../loyalty_bench]

Recreates the benchmark database (its name must start with `loyalty_bench`), migrates it and
loads, with set-based SQL, N cards of which half are expirable, a copy of the same cards in a
second programme, and a 20,000-card sample in a third. Every card has customer and ledger rows,
as enrolment leaves them. Then it times, over the same kind of cards:

1. the expiry service (`loyalty.services.expiry.expire_points`), emails included;
2. the floor: a hand-written pass of one SQL statement per chunk of 500 (lock the chunk, zero
   it, insert its ledger rows), walking the cards by key over the copy, on as many connections
   as the service uses (`expiry.WALKERS`, each walking its share of the ids);
3. the old design: a per-card ORM loop (load the card, write one ledger row, save, queue one
   email) over the sample;

and prints cards/s, the ratios, the process's peak memory, and a check that every card's
balance equals the sum of its ledger rows. Each pass starts after a CHECKPOINT.
"""

import argparse
import datetime
import os
import resource
import sys
import threading
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench"
SAMPLE_CARDS = 20_000
EXPIRATION_DAYS = 365


def recreate_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    if not name.startswith("loyalty_bench"):
        sys.exit(
            f"Refusing to recreate {name!r}: the benchmark database's name must start with "
            "'loyalty_bench'."
        )
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SECRET_KEY"] = "benchmark"
    os.environ["PIN_SECRET"] = "benchmark-only-pin-secret-benchmark-only-pin-secret"
    # Not DEBUG: Django would keep every query in memory.
    os.environ["DJANGO_DEBUG"] = "false"
    # The analytics benchmark calls its endpoints through Django's test client.
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"
    # Expiry's emails are queued, not sent: sending them is bench/emails.py's measure.
    os.environ["EMAIL_SEND_AFTER_COMMIT"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def peak_memory_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_cards(*, slug: str, cards: int, now: datetime.datetime):
    """A merchant, a store, a programme with expiry, and `cards` cards with their customers and
    one ledger row each. Even customers' cards were last active 400 days ago (expirable);
    odd ones 30 days ago."""
    from django.db import connection

    from loyalty.models import Program
    from merchants.models import Merchant, Store

    merchant = Merchant.objects.create(slug=slug, name=slug.title())
    store = Store.objects.create(merchant=merchant, code="main", name="Main")
    program = Program.objects.create(
        merchant=merchant, name="Points", points_expiration_days=EXPIRATION_DAYS
    )
    params = {"m": merchant.pk, "s": store.pk, "p": program.pk, "n": cards, "now": now}
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
        cursor.execute(
            """
            INSERT INTO loyalty_card (program_id, customer_id, enrolled_store_id, number,
                link_key, wallet_pass_state, points_balance, stamp_count, lifetime_points_earned,
                lifetime_points_redeemed, lifetime_points_voided, lifetime_points_expired,
                last_activity_at, is_active, created_at)
            SELECT %(p)s, c.id, %(s)s, lpad((%(p)s::bigint * 10000000 + c.id)::text, 12, '0'),
                gen_random_uuid(), '',
                100 + c.id %% 400, 0, 100 + c.id %% 400, 0, 0, 0,
                CASE WHEN c.id %% 2 = 0
                     THEN %(now)s - interval '400 days' - (c.id %% 86400) * interval '1 second'
                     ELSE %(now)s - interval '30 days' - (c.id %% 86400) * interval '1 second'
                END,
                true, %(now)s - interval '2 years'
            FROM customers_customer AS c
            WHERE c.merchant_id = %(m)s
            ORDER BY c.id
            """,
            params,
        )
        insert_earn_rows(cursor, program_id=program.pk, merchant_id=merchant.pk, store_id=store.pk)
    return merchant, program


def copy_cards(*, source, slug: str):
    """A second programme holding a copy of `source`'s cards (same balances and activity)."""
    from django.db import connection

    from loyalty.models import Program
    from merchants.models import Merchant, Store

    merchant = Merchant.objects.create(slug=slug, name=slug.title())
    store = Store.objects.create(merchant=merchant, code="main", name="Main")
    program = Program.objects.create(
        merchant=merchant, name="Points", points_expiration_days=EXPIRATION_DAYS
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO loyalty_card (program_id, customer_id, enrolled_store_id, number,
                link_key, wallet_pass_state, points_balance, stamp_count, lifetime_points_earned,
                lifetime_points_redeemed, lifetime_points_voided, lifetime_points_expired,
                last_activity_at, is_active, created_at)
            SELECT %s, customer_id, %s, 'c' || substr(number, 2), gen_random_uuid(), '',
                points_balance, stamp_count,
                lifetime_points_earned, 0, 0, 0, last_activity_at, is_active, created_at
            FROM loyalty_card WHERE program_id = %s ORDER BY id
            """,
            [program.pk, store.pk, source.pk],
        )
        insert_earn_rows(cursor, program_id=program.pk, merchant_id=merchant.pk, store_id=store.pk)
    return program


def insert_earn_rows(cursor, *, program_id: int, merchant_id: int, store_id: int) -> None:
    cursor.execute(
        """
        INSERT INTO loyalty_transaction (card_id, merchant_id, store_id, type, points_delta,
            points_balance_after, stamps_delta, stamps_balance_after, order_reference, reason,
            notes, created_at)
        SELECT id, %s, %s, 'points_earned', points_balance, points_balance, 0, 0, '', '', '',
            last_activity_at
        FROM loyalty_card WHERE program_id = %s ORDER BY id
        """,
        [merchant_id, store_id, program_id],
    )


FLOOR_CHUNK_SQL = """
WITH chunk AS (
    SELECT id, points_balance FROM loyalty_card
    WHERE program_id = %(p)s AND id > %(after)s AND id <= %(up_to)s
      AND deleted_at IS NULL AND is_active
      AND points_balance > 0 AND last_activity_at <= %(threshold)s
    ORDER BY id LIMIT 500
    FOR UPDATE SKIP LOCKED
), zeroed AS (
    UPDATE loyalty_card AS card
    SET points_balance = 0,
        lifetime_points_expired = card.lifetime_points_expired + chunk.points_balance
    FROM chunk WHERE card.id = chunk.id
    RETURNING card.id, chunk.points_balance, card.stamp_count
), ledger AS (
    INSERT INTO loyalty_transaction (card_id, merchant_id, store_id, type, points_delta,
        points_balance_after, stamps_delta, stamps_balance_after, order_reference, reason,
        notes, created_at)
    SELECT id, %(m)s, NULL, 'points_expired', -points_balance, 0, 0, stamp_count, '', '', '',
        now()
    FROM zeroed
)
SELECT count(*), max(id) FROM zeroed
"""


def sql_floor(program, now: datetime.datetime) -> int:
    """The floor on expiry.WALKERS connections, each walking an equal share of the ids."""
    from django.db import connection
    from django.db.models import Max, Min

    from loyalty.models import Card
    from loyalty.services import expiry

    bounds = Card.objects.filter(program=program).aggregate(low=Min("id"), high=Max("id"))
    low, high = bounds["low"] - 1, bounds["high"]
    step = -(-(high - low) // expiry.WALKERS)
    shares = [(after, min(after + step, high)) for after in range(low, high, step)]
    expired = [0] * len(shares)

    def walk(share: int) -> None:
        try:
            expired[share] = _floor_range(program, now, *shares[share])
        finally:
            connection.close()

    threads = [threading.Thread(target=walk, args=(share,)) for share in range(len(shares))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(expired)


def _floor_range(program, now: datetime.datetime, after: int, up_to: int) -> int:
    from django.db import connection, transaction

    threshold = now - datetime.timedelta(days=EXPIRATION_DAYS)
    expired = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            params = {"p": program.pk, "m": program.merchant_id, "after": after, "up_to": up_to}
            cursor.execute(FLOOR_CHUNK_SQL, {**params, "threshold": threshold})
            count, last = cursor.fetchone()
        if not count:
            return expired
        expired += count
        after = last


def per_card_loop(program, now: datetime.datetime) -> int:
    """The old design: one transaction, one ledger row, one save and one email per card."""
    from django.db import transaction

    from loyalty.models import Card, Transaction, TransactionType
    from messaging.services import EmailRequest, queue_email

    threshold = now - datetime.timedelta(days=EXPIRATION_DAYS)
    ids = Card.objects.filter(
        program=program, points_balance__gt=0, last_activity_at__lte=threshold
    ).values_list("pk", flat=True)
    expired = 0
    for pk in list(ids):
        with transaction.atomic():
            card = (
                Card.objects.select_for_update(of=("self",))
                .select_related("program__merchant", "customer")
                .get(pk=pk)
            )
            points = card.points_balance
            Transaction.objects.create(
                card=card,
                merchant_id=card.program.merchant_id,
                type=TransactionType.POINTS_EXPIRED,
                points_delta=-points,
                points_balance_after=0,
                stamps_balance_after=card.stamp_count,
            )
            card.points_balance = 0
            card.lifetime_points_expired += points
            card.save()
            queue_email(
                EmailRequest(
                    merchant_id=card.program.merchant_id,
                    customer_id=card.customer_id,
                    to=card.customer.email,
                    template="points_expired",
                    context={"first_name": card.customer.first_name, "points_expired": points},
                )
            )
        expired += 1
    return expired


def ledger_mismatches() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM loyalty_card AS card
            JOIN (SELECT card_id, sum(points_delta) AS total FROM loyalty_transaction
                  GROUP BY card_id) AS ledger ON ledger.card_id = card.id
            WHERE ledger.total <> card.points_balance
            """
        )
        return cursor.fetchone()[0]


def time_email_queueing() -> list[float]:
    """Wrap the service's email queueing to add up the time it takes, over all its threads."""
    from loyalty.services import expiry

    total = [0.0]
    adding = threading.Lock()
    queue_emails = expiry.queue_emails

    def timed_queue_emails(requests):
        started = time.perf_counter()
        try:
            return queue_emails(requests)
        finally:
            with adding:
                total[0] += time.perf_counter() - started

    expiry.queue_emails = timed_queue_emails
    return total


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def timed(function, *args):
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    args = parser.parse_args()

    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from loyalty.services import expiry
    from loyalty.services.expiry import expire_points

    call_command("migrate", verbosity=0)
    now = datetime.datetime.now(datetime.UTC)
    print(f"Loading {args.cards:,} cards, a copy of them and a {SAMPLE_CARDS:,}-card sample ...")
    started = time.perf_counter()
    merchant, program = load_cards(slug="bench-service", cards=args.cards, now=now)
    floor_program = copy_cards(source=program, slug="bench-floor")
    _, sample_program = load_cards(slug="bench-per-card", cards=SAMPLE_CARDS, now=now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"  loaded in {time.perf_counter() - started:.1f} s")
    memory_before = peak_memory_mib()

    # Each pass starts from a clean checkpoint, so none pays for the previous one's writes;
    # the floor goes first.
    checkpoint()
    floor_cards, floor_seconds = timed(sql_floor, floor_program, now)
    checkpoint()
    email_seconds = time_email_queueing()
    counts, service_seconds = timed(lambda: expire_points(now=now, merchants=[merchant]))
    memory_after_service = peak_memory_mib()
    checkpoint()
    loop_cards, loop_seconds = timed(per_card_loop, sample_program, now)

    service_rate = counts.cards / service_seconds
    loop_rate = loop_cards / loop_seconds
    print(f"cards: {args.cards:,} (expirable: {counts.cards:,})")
    print(
        f"service:      {counts.cards:>9,} cards expired in {service_seconds:6.2f} s "
        f"= {service_rate:>9,.0f} cards/s ({counts.points:,} points, emails queued)"
    )
    print(
        f"SQL floor:    {floor_cards:>9,} cards expired in {floor_seconds:6.2f} s "
        f"= {floor_cards / floor_seconds:>9,.0f} cards/s"
    )
    print(
        f"per-card ORM: {loop_cards:>9,} cards expired in {loop_seconds:6.2f} s "
        f"= {loop_rate:>9,.0f} cards/s"
    )
    print(
        f"  time spent queueing the emails (messaging.services.queue_emails), summed over "
        f"the service's {expiry.WALKERS} walkers: {email_seconds[0]:.2f} s"
    )
    print(f"service time / SQL floor time: {service_seconds / floor_seconds:.2f}x")
    print(f"service speed / per-card loop speed: {service_rate / loop_rate:.1f}x")
    print(
        f"peak memory (RSS): {memory_before:.1f} MiB after loading, "
        f"{memory_after_service:.1f} MiB after the service run, "
        f"{peak_memory_mib():.1f} MiB at the end"
    )
    mismatches = ledger_mismatches()
    print(f"cards whose balance differs from their ledger: {mismatches}")
    if mismatches:
        sys.exit(1)


if __name__ == "__main__":
    main()
