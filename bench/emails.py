"""Benchmark of the email sender, on PostgreSQL.

    .venv/bin/python bench/emails.py [--emails 100000] \
        [--database-url postgres://postgres@127.0.0.1:5432/loyalty_bench_emails]

Recreates the benchmark database (its name must start with `loyalty_bench`), migrates it (the
28 default templates come with it) and loads one merchant with 1,000 customers across the four
locales. It starts the fake Postmark API (`tests/fake_postmark.py`) in a process of its own on
127.0.0.1. Then, for 10,000 emails and for N (default 100,000): it queues them through
`messaging.services.queue_emails` (COPY, in chunks of 5,000, the way expiry does), and drains
them with ONE worker process running the sender (`send_queued_emails`) through anymail's
Postmark backend into the fake API. It prints, per run: emails/s, the worker's CPU time per
email, and its peak memory (flat from 10,000 to N means the sender holds one batch at a time),
and checks that every email was sent exactly once.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.expire import recreate_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_emails"
TOKEN = "benchmark-server-token"
CUSTOMERS = 1_000
QUEUE_CHUNK = 5_000


def django_environment(url: str, api_url: str = "") -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SECRET_KEY": "benchmark",
        "PIN_SECRET": "benchmark-only-pin-secret-benchmark-only-pin-secret",
        # Not DEBUG: Django would keep every query in memory.
        "DJANGO_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Queue without sending: the worker below drains the queue on its own.
        "EMAIL_SEND_AFTER_COMMIT": "false",
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "POSTMARK_SERVER_TOKEN": TOKEN,
        "POSTMARK_API_URL": api_url,
        "DEFAULT_FROM_EMAIL": "loyalty@example.com",
        "LOG_LEVEL": "WARNING",
    }


def setup_django(url: str) -> None:
    os.environ.update(django_environment(url))
    import django

    django.setup()


def load_customers():
    from customers.models import Customer
    from loyalty.models import Program
    from merchants.models import Merchant, Store

    merchant = Merchant.objects.create(name="Bench Bakery", slug="bench-bakery")
    Store.objects.create(merchant=merchant, code="main", name="Main")
    Program.objects.create(merchant=merchant, name="Bread Club", welcome_bonus_points=50)
    locales = ["en", "fr", "de", "lb"]
    customers = Customer.objects.bulk_create(
        Customer(
            merchant=merchant,
            email=f"customer{n}@example.com",
            first_name=f"Customer{n}",
            locale=locales[n % 4],
        )
        for n in range(CUSTOMERS)
    )
    return merchant, customers


def queue(merchant, customers, count: int) -> float:
    from django.db import transaction

    from loyalty import emails
    from messaging.models import OutgoingEmail
    from messaging.services import EmailRequest, queue_emails

    OutgoingEmail.objects.all().delete()
    store = merchant.stores.get()
    started = time.perf_counter()
    for first in range(0, count, QUEUE_CHUNK):
        requests = []
        for n in range(first, min(first + QUEUE_CHUNK, count)):
            customer = customers[n % CUSTOMERS]
            context = dict(emails.SAMPLE_CONTEXTS[emails.WELCOME_BONUS])
            context.update(first_name=customer.first_name, merchant_name=merchant.name)
            requests.append(
                EmailRequest(
                    merchant_id=merchant.pk,
                    customer_id=customer.pk,
                    store_id=store.pk,
                    to=f"n{n}-{customer.email}",
                    template=emails.WELCOME_BONUS,
                    context=context,
                )
            )
        with transaction.atomic():
            queue_emails(requests)
    return time.perf_counter() - started


def drain() -> None:
    """The worker process: send everything due, then report its figures as JSON."""
    import django

    django.setup()
    from messaging.services.sending import send_queued_emails

    started = time.perf_counter()
    counts = send_queued_emails()
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "counts": counts.as_dict(),
                "seconds": elapsed,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drain:
        drain()
        return

    recreate_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from messaging.models import OutgoingEmail

    call_command("migrate", verbosity=0)
    merchant, customers = load_customers()
    esp = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_postmark.py"), TOKEN],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        api_url = esp.stdout.readline().strip()
        print(f"fake Postmark API at {api_url}; one worker process, batches of 100")
        for count in sorted({10_000, args.emails}):
            queue_seconds = queue(merchant, customers, count)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE messaging_outgoingemail")
            worker = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--drain"],
                cwd=ROOT,
                env=django_environment(args.database_url, api_url),
                capture_output=True,
                text=True,
                check=True,
            )
            report = json.loads(worker.stdout.strip().splitlines()[-1])
            sent = OutgoingEmail.objects.filter(status="sent").count()
            ids = OutgoingEmail.objects.exclude(esp_message_id="").values("esp_message_id")
            distinct_ids = ids.distinct().count()
            assert report["counts"]["sent"] == sent == distinct_ids == count, (report, sent)
            print(
                f"{count:>7,} emails: queued in {queue_seconds:.2f} s "
                f"({count / queue_seconds:,.0f}/s); sent in {report['seconds']:.1f} s: "
                f"{count / report['seconds']:,.0f} emails/s, "
                f"CPU {1000 * report['cpu_seconds'] / count:.2f} ms per email, "
                f"peak memory {report['peak_rss_mib']:.1f} MiB"
            )
    finally:
        esp.terminate()
        esp.wait()


if __name__ == "__main__":
    main()
