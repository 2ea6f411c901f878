#!/usr/bin/env python3
"""Load test of the terminal earn endpoint, with a trivial DRF endpoint as the ceiling.

    .venv/bin/python bench/terminal_load.py [--database-url URL] [--seconds 30]
        [--port 8013] [--cache-url redis://127.0.0.1:6379/13] [--metrics-comparison]

Recreates the PostgreSQL database named in --database-url (default: loyalty_bench on
127.0.0.1), loads 10,000 cards and 50 terminal keys, starts gunicorn on 127.0.0.1:8013 and
drives earn with 50 concurrent terminals (each request with its own Idempotency-Key, staff
PIN, rate limiting on with caps high enough never to bite), then a bare hand-written SQL earn
(lock, update, insert: what any earn that follows the ledger rule costs at least), then the
ceiling endpoint. Then an open loop: earns sent on a fixed schedule (--open-rate per second for
--seconds, each at its time whether or not earlier ones have answered), with latency counted
from the time each was due, and the share answered 201.
Needs PostgreSQL, and Redis on 127.0.0.1:6379 for the shared rate-limit cache.

--metrics-comparison measures only the earn, against two servers of the same shape on the same
data, started side by side on --port and the next port: one with the metrics on
(PROMETHEUS_MULTIPROC_DIR set, as production runs: every request counted and the terminal's
latency timed, in files), one with them off (BENCH_METRICS=false: no request middleware, and
the services' few counters in memory). They are driven in turn, --rounds times each, the
order swapped every round so that the machine's load falls on both alike. It prints each
phase's throughput, the means and their ratio, and the web processes' CPU time per earn
(from /proc), which a shared machine's load disturbs far less than throughput.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", 8013
TERMINALS = 50
CARDS = 10_000
STAFF_PIN = "1234"
LOAD_PROCESSES = 1


def server_env(database_url: str, cache_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": "benchmark-only-secret-key-benchmark-only-secret-key",
        "PIN_SECRET": "benchmark-only-pin-secret-benchmark-only-pin-secret",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "CACHE_URL": cache_url,
        "TERMINAL_RATE_LIMIT_EARN": "1000000/m",
        "LOG_LEVEL": "WARNING",
    }


def recreate_database(database_url: str) -> None:
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def seed() -> tuple[list[str], list[str]]:
    """Run inside the server's environment: migrate, then the data. Returns keys, cards."""
    import django

    django.setup()
    from django.core.management import call_command

    from loyalty import card_numbers
    from loyalty.models import Card, Program
    from loyalty.services.staff_pins import set_staff_pin
    from loyalty.services.terminal_keys import issue_terminal_key
    from merchants.models import Merchant, Store

    call_command("migrate", verbosity=0)
    merchant = Merchant.objects.create(name="Bench Bakery", slug="bench-bakery")
    store = Store.objects.create(merchant=merchant, code="main", name="Main")
    program = Program.objects.create(merchant=merchant, name="Bench", require_staff_pin=True)
    set_staff_pin(store=store, staff_name="Sam", pin=STAFF_PIN)
    keys = [issue_terminal_key(store=store, name=f"till {n}")[1] for n in range(TERMINALS)]
    numbers = list({card_numbers.generate() for _ in range(CARDS * 2)})[:CARDS]
    Card.objects.bulk_create(
        [Card(program=program, enrolled_store=store, number=n) for n in numbers],
        batch_size=2000,
    )
    return keys, numbers


def start_server(env: dict[str, str], workers: int, threads: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            socket.create_connection((HOST, PORT), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


class Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: a general-purpose client
    costs more CPU per request than the server's trivial endpoint, and would measure itself."""

    def __init__(self):
        self.reader = self.writer = None

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, PORT)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and "close" in value.lower():
                close = True
        await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return int(status_line.split()[1])


async def drive(request, concurrency: int, seconds: float) -> tuple[list[float], dict]:
    """Run `concurrency` loops of `request(connection, n)` for `seconds`."""
    latencies: list[float] = []
    statuses: dict = {}
    deadline = time.perf_counter() + seconds

    async def loop(n: int) -> None:
        connection = Connection()
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = await request(connection, n)
            except (OSError, asyncio.IncompleteReadError) as exc:
                status = type(exc).__name__
                connection = Connection()
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(loop(n) for n in range(concurrency)))
    return latencies, statuses


def earn_load(keys, numbers, seconds, share, out):
    rng = random.Random(share)

    async def earn(connection, n):
        terminal = n * LOAD_PROCESSES + share
        return await connection.request(*earn_request(rng, keys, numbers, terminal))

    out.put(asyncio.run(drive(earn, TERMINALS // LOAD_PROCESSES, seconds)))


def bare_earn_load(numbers, seconds, share, out):
    rng = random.Random(share)

    async def bare_earn(connection, n):
        body = json.dumps({"purchase_amount_cents": rng.randint(100, 10_000)}).encode()
        return await connection.request(
            "POST",
            f"/bench/bare-earn/{rng.choice(numbers)}/",
            {"Content-Type": "application/json"},
            body,
        )

    out.put(asyncio.run(drive(bare_earn, TERMINALS // LOAD_PROCESSES, seconds)))


def ceiling_load(seconds, share, out):
    async def ceiling(connection, n):
        return await connection.request("GET", "/bench/ceiling/", {})

    out.put(asyncio.run(drive(ceiling, TERMINALS // LOAD_PROCESSES, seconds)))


def earn_request(rng, keys, numbers, terminal):
    body = json.dumps({"purchase_amount_cents": rng.randint(100, 10_000), "staff_pin": STAFF_PIN})
    return (
        "POST",
        f"/api/v1/terminal/cards/{rng.choice(numbers)}/points/earn/",
        {
            "Authorization": f"Api-Key {keys[terminal]}",
            "Idempotency-Key": str(uuid.uuid4()),
            "Content-Type": "application/json",
        },
        body.encode(),
    )


async def open_loop(keys, numbers, rate: float, seconds: float) -> tuple[int, list, dict]:
    """Send rate x seconds earns, each at its due time; a request in flight does not hold
    the next one back (it takes another connection). Latency runs from the due time."""
    rng = random.Random(7)
    # (connection, when it was last used): gunicorn closes a connection idle for 2 s.
    idle: list[tuple[Connection, float]] = []
    latencies: list[float] = []
    statuses: dict = {}
    total = int(rate * seconds)
    start = time.perf_counter()

    async def send(n: int) -> None:
        due = start + n / rate
        # The least recently used are first: drop those the server may have closed.
        while idle and idle[0][1] < time.perf_counter() - 1:
            idle.pop(0)
        connection = idle.pop()[0] if idle else Connection()
        try:
            status = await asyncio.wait_for(
                connection.request(*earn_request(rng, keys, numbers, n % len(keys))), 10
            )
            idle.append((connection, time.perf_counter()))
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            status = type(exc).__name__
        latencies.append(time.perf_counter() - due)
        statuses[status] = statuses.get(status, 0) + 1

    tasks = []
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n)))
    await asyncio.gather(*tasks)
    return total, latencies, statuses


def measure(target, args, seconds) -> tuple[float, list[float], dict]:
    """Run the load from LOAD_PROCESSES processes and merge their figures."""
    out = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=target, args=(*args, seconds, share, out))
        for share in range(LOAD_PROCESSES)
    ]
    for process in processes:
        process.start()
    results = [out.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = [latency for result in results for latency in result[0]]
    statuses: dict = {}
    for _, counts in results:
        for status, count in counts.items():
            statuses[status] = statuses.get(status, 0) + count
    return len(latencies) / seconds, latencies, statuses


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=1000)[int(fraction * 1000) - 1]


def report(name: str, rate: float, latencies: list[float], statuses: dict) -> None:
    print(
        f"{name:<17} {rate:8.0f} req/s   p50 {percentile(latencies, 0.50) * 1000:6.1f} ms   "
        f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms   statuses {statuses}",
        flush=True,
    )


def compare_metrics(env: dict[str, str], keys, numbers, args) -> None:
    global PORT
    print(
        f"gunicorn on {HOST}:{args.port} (metrics on) and :{args.port + 1} (off): "
        f"{args.workers} workers x {args.threads} threads (gthread) each; {TERMINALS} "
        f"terminals; {args.rounds} rounds of {args.seconds:.0f} s per server"
    )
    with tempfile.TemporaryDirectory(prefix="loyalty-bench-metrics-") as metrics_dir:
        servers = {}
        for mode, port in (("on", args.port), ("off", args.port + 1)):
            mode_env = {**env, "BENCH_METRICS": "true" if mode == "on" else "false"}
            if mode == "on":
                mode_env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            PORT = port
            servers[mode] = (port, start_server(mode_env, args.workers, args.threads))
            measure(earn_load, (keys, numbers), 3)  # warm-up: connections, caches
        rates: dict[str, list[float]] = {"on": [], "off": []}
        cpu: dict[str, list[float]] = {"on": [], "off": []}
        try:
            for round_number in range(args.rounds):
                for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                    PORT, server = servers[mode]
                    cpu_before = process_tree_cpu_seconds(server.pid)
                    rate, latencies, statuses = measure(earn_load, (keys, numbers), args.seconds)
                    cpu_per_earn = (process_tree_cpu_seconds(server.pid) - cpu_before) / len(
                        latencies
                    )
                    report(f"earn, metrics {mode}", rate, latencies, statuses)
                    rates[mode].append(rate)
                    cpu[mode].append(cpu_per_earn)
        finally:
            for _, server in servers.values():
                server.terminate()
                server.wait(10)
    on, off = statistics.mean(rates["on"]), statistics.mean(rates["off"])
    cpu_on, cpu_off = statistics.mean(cpu["on"]), statistics.mean(cpu["off"])
    print(
        f"earn with metrics {on:.0f}/s, without {off:.0f}/s (means of {args.rounds} rounds): "
        f"with / without = {on / off:.3f}"
    )
    print(
        f"web CPU per earn with metrics {cpu_on * 1000:.2f} ms, without {cpu_off * 1000:.2f} ms: "
        f"without / with = {cpu_off / cpu_on:.3f} (the throughput a CPU-bound server keeps)"
    )


def process_tree_cpu_seconds(pid: int) -> float:
    """User and system CPU time of gunicorn's master and its workers (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    ticks = 0
    for process in [str(pid), *children]:
        # The fields after the command's closing parenthesis: utime and stime are 12th, 13th.
        fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    global PORT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/loyalty_bench"
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--open-rate", type=float, default=100)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--metrics-comparison", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    PORT = args.port
    env = server_env(args.database_url, args.cache_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    print(f"Recreating {args.database_url} and loading {CARDS} cards ...", flush=True)
    recreate_database(args.database_url)
    keys, numbers = seed()
    if args.metrics_comparison:
        compare_metrics(env, keys, numbers, args)
        return 0
    server = start_server(env, args.workers, args.threads)
    try:
        print(
            f"gunicorn on {HOST}:{PORT}: {args.workers} workers x {args.threads} threads "
            f"(gthread); {TERMINALS} terminals"
        )
        measure(earn_load, (keys, numbers), 3)  # warm-up: connections, caches
        earn_rate, earn_latencies, earn_statuses = measure(earn_load, (keys, numbers), args.seconds)
        report("earn", earn_rate, earn_latencies, earn_statuses)
        measure(bare_earn_load, (numbers,), 3)
        bare_rate, bare_latencies, bare_statuses = measure(bare_earn_load, (numbers,), args.seconds)
        report("bare SQL earn", bare_rate, bare_latencies, bare_statuses)
        measure(ceiling_load, (), 3)
        ceiling_rate, ceiling_latencies, ceiling_statuses = measure(ceiling_load, (), args.seconds)
        report("ceiling", ceiling_rate, ceiling_latencies, ceiling_statuses)
        sent, open_latencies, open_statuses = asyncio.run(
            open_loop(keys, numbers, args.open_rate, args.seconds)
        )
    finally:
        server.terminate()
        server.wait(10)
    errors = sum(count for status, count in earn_statuses.items() if status != 201)
    print(
        f"earn / bare SQL earn = {earn_rate / bare_rate:.2f}   "
        f"earn / ceiling = {earn_rate / ceiling_rate:.2f}   "
        f"bare SQL earn / ceiling = {bare_rate / ceiling_rate:.2f}   "
        f"earn p99 = {percentile(earn_latencies, 0.99) * 1000:.1f} ms   errors = {errors}"
    )
    answered = open_statuses.get(201, 0)
    print(
        f"open loop, {args.open_rate:.0f} earns/s for {args.seconds:.0f} s: {sent} sent, "
        f"{answered / sent:.1%} answered 201, p50 {percentile(open_latencies, 0.50) * 1000:.1f} "
        f"ms, p99 {percentile(open_latencies, 0.99) * 1000:.1f} ms, statuses {open_statuses}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
