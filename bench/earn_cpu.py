#!/usr/bin/env python3
"""CPU time of one earn, in the web process and in its PostgreSQL backend, on one connection.

    .venv/bin/python bench/earn_cpu.py [--database-url URL] [--earns 2000]

Recreates the database named in --database-url (default: loyalty_bench on 127.0.0.1), loads
the same data as `terminal_load.py`, then sends earns one after the other through Django's
test client (rate limiting in Redis, staff PIN, Idempotency-Key, as in the load test), then
the load test's bare hand-written SQL earns, and prints the CPU time per earn of this process
and of its PostgreSQL backend for each, and the database transactions per earn (the change in
`pg_stat_database.xact_commit + xact_rollback`, less the two that reading it costs). Unlike
the load test's requests/s, these figures depend little on what else the machine is doing.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import terminal_load  # noqa: E402

WARM_UP_EARNS = 300


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def transactions_so_far(connection) -> int:
    """Transactions committed or rolled back in this database, flushed to the statistics."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        )
        return cursor.fetchone()[0]


# The statistics query's own transactions: the read before and the flush after.
READING_TRANSACTIONS = 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/loyalty_bench"
    )
    parser.add_argument("--earns", type=int, default=2000)
    args = parser.parse_args()

    os.environ.update(
        {**terminal_load.server_env(args.database_url), "DJANGO_ALLOWED_HOSTS": "testserver"}
    )
    terminal_load.recreate_database(args.database_url)
    keys, numbers = terminal_load.seed()

    from django.db import connection
    from django.test import Client

    client = Client()

    def post(path: str, body: dict, **headers) -> None:
        response = client.post(
            path, data=json.dumps(body), content_type="application/json", **headers
        )
        if response.status_code != 201:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content!r}")

    def earn(n: int) -> None:
        post(
            f"/api/v1/terminal/cards/{numbers[n % len(numbers)]}/points/earn/",
            {"purchase_amount_cents": 1234, "staff_pin": terminal_load.STAFF_PIN},
            HTTP_AUTHORIZATION=f"Api-Key {keys[n % len(keys)]}",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    def bare_earn(n: int) -> None:
        post(f"/bench/bare-earn/{numbers[n % len(numbers)]}/", {"purchase_amount_cents": 1234})

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    for name, send in (("earns", earn), ("bare SQL earns", bare_earn)):
        for n in range(WARM_UP_EARNS):
            send(n)
        transactions_before = transactions_so_far(connection)
        backend_before = backend_cpu_seconds(backend)
        process_before, wall_before = time.process_time(), time.perf_counter()
        for n in range(args.earns):
            send(n)
        per_earn = 1000 / args.earns
        web = (time.process_time() - process_before) * per_earn
        database = (backend_cpu_seconds(backend) - backend_before) * per_earn
        wall = (time.perf_counter() - wall_before) * per_earn
        transactions = (
            transactions_so_far(connection) - transactions_before - READING_TRANSACTIONS
        ) / args.earns
        print(
            f"{args.earns} {name}: web process {web:.2f} ms CPU, PostgreSQL backend "
            f"{database:.2f} ms CPU, {wall:.2f} ms wall, {transactions:.2f} database "
            "transactions per earn",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
