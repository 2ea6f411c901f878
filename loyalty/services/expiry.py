"""Point expiration and the warnings before it.

A card's points expire `points_expiration_days` after its last activity: it expires when
`now >= last_activity_at + points_expiration_days` and it holds points. Expiry does not move
`last_activity_at`. A card whose expiry falls within the next `expiration_warning_days` gets one
"points expiring" email per expiry cycle: the cycle starts at its last activity, so a warning
given after that activity (`last_expiration_warning_at`) counts for the cycle.

The work is set-based. Per programme the cards are taken in chunks of CHUNK_SIZE with
`SELECT ... FOR UPDATE SKIP LOCKED`, walking them by primary key (`id > last id`, on the
(program, id) index), so each chunk reads only its own rows, in table order, however many
chunks came before. Each chunk is one transaction that writes all its ledger rows and zeroes
all its balances set-based, marking the cards' wallet passes stale in the same UPDATE (the
periodic wallet sync pushes them): on PostgreSQL in one statement, elsewhere in one
INSERT ... SELECT and one UPDATE. Its emails are queued after the commit, in one call. On
PostgreSQL, WALKERS threads expire at once, each on its own connection and its own ranges of
ids.

Safe to crash, re-run and run twice at once: the chunk query re-checks the balance and the
activity threshold on the rows it locks, so a committed chunk is never expired again, a chunk
locked by another run is skipped (that run expires it), and a card locked by a terminal is
skipped too (the terminal's operation makes it active again). On SQLite, which has no row
locks, the chunk query is a plain select inside a write transaction.
"""

import contextvars
import datetime
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from django.db import connection, connections, transaction
from django.db.models import Case, Count, F, Max, Min, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from loyalty import card_links, card_numbers, emails
from loyalty.models import Card, Program, TransactionType
from merchants.log_events import log_event
from merchants.models import Merchant
from messaging.services import EmailRequest, queue_emails

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
# Connections expiring at once, each over its own ranges of card ids: the database then
# works on as many cores. The walkers take ranges from a common queue; a large programme is
# cut into up to MAX_RANGES of them, which evens out the walkers' shares.
WALKERS = 2
MAX_RANGES = 16
EXPIRED_TEMPLATE = emails.POINTS_EXPIRED
EXPIRING_TEMPLATE = emails.POINTS_EXPIRING


@dataclass
class ExpiryCounts:
    programs: int = 0
    cards: int = 0
    points: int = 0
    warnings: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def expire_points(
    *,
    now: datetime.datetime,
    merchants: list[Merchant] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExpiryCounts:
    """Expire the points due at `now` and queue the warnings due at `now`, for every programme
    with expiry on (of the given merchants; default all). `on_progress` gets the number of
    cards of each committed chunk."""
    counts = ExpiryCounts()
    counting = threading.Lock()

    def committed(rows: list[dict]) -> None:
        with counting:
            counts.cards += len(rows)
            counts.points += sum(row["points_balance"] for row in rows)
            if on_progress is not None:
                on_progress(len(rows))

    programs = list(_programs_with_expiry(merchants))
    counts.programs = len(programs)
    _expire(programs=programs, now=now, committed=committed)
    for program in programs:
        counts.warnings += _warn_expiring_points(program=program, now=now)
    return counts


def preview_expiry(
    *, now: datetime.datetime, merchants: list[Merchant] | None = None
) -> ExpiryCounts:
    """What `expire_points` would do at `now`, changing nothing."""
    counts = ExpiryCounts()
    for program in _programs_with_expiry(merchants):
        counts.programs += 1
        expirable = _expirable_cards(program, now).aggregate(
            cards=Count("pk"), points=Sum("points_balance")
        )
        counts.cards += expirable["cards"]
        counts.points += expirable["points"] or 0
        counts.warnings += _cards_to_warn(program, now).count()
    return counts


def _warn_expiring_points(*, program: Program, now: datetime.datetime) -> int:
    """Queue one "points expiring" email for each card of the programme whose expiry falls
    within its warning period and that has had no warning since its last activity."""
    cards = _cards_to_warn(program, now)

    def warn_chunk(last_id: int) -> list[dict]:
        rows = _lock_chunk(cards.filter(pk__gt=last_id))
        if rows:
            Card.all_objects.filter(pk__in=[row["pk"] for row in rows]).update(
                last_expiration_warning_at=now
            )
        return rows

    warned = 0
    for rows in _walk(warn_chunk):
        warned += len(rows)
        queue_emails(
            [
                _email(
                    program,
                    row,
                    EXPIRING_TEMPLATE,
                    points_balance=row["points_balance"],
                    expires_on=_local_date(
                        program,
                        row["last_activity_at"]
                        + datetime.timedelta(days=program.points_expiration_days),
                    ),
                )
                for row in rows
                if row["customer_id"] is not None
            ]
        )
    return warned


def _programs_with_expiry(merchants: list[Merchant] | None) -> QuerySet[Program]:
    programs = (
        Program.objects.filter(
            points_expiration_days__isnull=False, merchant__deleted_at__isnull=True
        )
        .select_related("merchant")
        .order_by("pk")
    )
    if merchants is not None:
        programs = programs.filter(merchant__in=merchants)
    return programs


def _live_cards(program: Program) -> QuerySet[Card]:
    return Card.objects.filter(program=program, is_active=True, points_balance__gt=0)


def _expiry_threshold(program: Program, now: datetime.datetime) -> datetime.datetime:
    """Cards last active at or before this instant have expired at `now`."""
    return now - datetime.timedelta(days=program.points_expiration_days)


def _expirable_cards(program: Program, now: datetime.datetime) -> QuerySet[Card]:
    return _live_cards(program).filter(last_activity_at__lte=_expiry_threshold(program, now))


def _cards_to_warn(program: Program, now: datetime.datetime) -> QuerySet[Card]:
    threshold = _expiry_threshold(program, now)
    return _live_cards(program).filter(
        Q(last_expiration_warning_at__isnull=True)
        | Q(last_expiration_warning_at__lt=F("last_activity_at")),
        last_activity_at__gt=threshold,
        last_activity_at__lte=threshold + datetime.timedelta(days=program.expiration_warning_days),
    )


def _expire(
    *, programs: list[Program], now: datetime.datetime, committed: Callable[[list[dict]], None]
) -> None:
    """Expire the programmes' due points. On PostgreSQL, WALKERS threads, each on a connection
    of its own for the whole run, take ranges of card ids of any programme from a common
    queue. Elsewhere, or inside a transaction (a test's), whose cards other connections would
    not see, programme after programme on this connection."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        for program in programs:
            _expire_range(program=program, now=now, after=0, up_to=None, committed=committed)
        return
    ranges = queue.SimpleQueue()
    for program in programs:
        for after, up_to in _id_ranges(program):
            ranges.put((program, after, up_to))
    stop = threading.Event()
    errors = []

    def walk_ranges() -> None:
        try:
            while not stop.is_set():
                try:
                    program, after, up_to = ranges.get_nowait()
                except queue.Empty:
                    return
                _expire_range(
                    program=program,
                    now=now,
                    after=after,
                    up_to=up_to,
                    committed=committed,
                    stop=stop,
                )
        except BaseException as exc:
            errors.append(exc)
            stop.set()
        finally:
            connections.close_all()

    name = threading.current_thread().name
    # Each walker runs in a copy of this context: its records carry the run's request id.
    walkers = [
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(walk_ranges,),
            name=f"{name}-expiry-{number}",
        )
        for number in range(WALKERS)
    ]
    for walker in walkers:
        walker.start()
    try:
        for walker in walkers:
            walker.join()
    finally:
        # Interrupted (a task's soft time limit): the walkers stop after their current chunk.
        stop.set()
        for walker in walkers:
            walker.join()
    if errors:
        raise errors[0]


def _id_ranges(program: Program) -> list[tuple[int, int]]:
    """Ranges of card ids, (after, up to], of equal width, that cover the programme's cards:
    one per four chunks' worth of cards, from one to MAX_RANGES."""
    bounds = Card.all_objects.filter(program=program).aggregate(
        low=Min("pk"), high=Max("pk"), cards=Count("pk")
    )
    if not bounds["cards"]:
        return []
    count = min(MAX_RANGES, max(1, bounds["cards"] // (4 * CHUNK_SIZE)))
    after, last = bounds["low"] - 1, bounds["high"]
    width = -(-(last - after) // count)
    return [(start, min(start + width, last)) for start in range(after, last, width)]


def _expire_range(
    *,
    program: Program,
    now: datetime.datetime,
    after: int,
    up_to: int | None,
    committed: Callable[[list[dict]], None],
    stop: threading.Event | None = None,
) -> None:
    """Expire the due cards with ids in (after, up_to], chunk by chunk, and queue each
    chunk's emails after its commit."""
    cards = _expirable_cards(program, now)
    if up_to is not None:
        cards = cards.filter(pk__lte=up_to)
    reason = f"No activity for {program.points_expiration_days} days"
    expired_on = _local_date(program, now)
    for rows in _walk(
        lambda last_id: _expire_chunk(
            program=program, cards=cards.filter(pk__gt=last_id), reason=reason
        ),
        after=after,
    ):
        log_event(
            logger,
            "expiry_chunk",
            merchant=program.merchant.slug,
            program_id=program.pk,
            chunk_cards=len(rows),
            chunk_points=sum(row["points_balance"] for row in rows),
        )
        queue_emails(
            [
                _email(
                    program,
                    row,
                    EXPIRED_TEMPLATE,
                    points_expired=row["points_balance"],
                    expired_on=expired_on,
                )
                for row in rows
                if row["customer_id"] is not None
            ]
        )
        committed(rows)
        if stop is not None and stop.is_set():
            return


def _walk(chunk: Callable[[int], list[dict]], *, after: int = 0) -> Iterator[list[dict]]:
    """Call `chunk(last_id)` in a transaction of its own, again and again, walking the cards
    by primary key from `after`; yield each chunk's rows after its commit, until a chunk is
    empty."""
    last_id = after
    while True:
        with transaction.atomic(durable=True):
            if connection.vendor == "postgresql":
                # Commit without waiting for the disk: a crash can lose only the last few
                # chunks (and their emails, committed after them), which the next run redoes.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit = off")
            rows = chunk(last_id)
        if not rows:
            return
        yield rows
        last_id = rows[-1]["pk"]


def _lock_chunk(cards: QuerySet[Card]) -> list[dict]:
    return list(_chunk_query(cards).values(*_CHUNK_FIELDS))


def _chunk_query(cards: QuerySet[Card]) -> QuerySet[Card]:
    return cards.select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:CHUNK_SIZE]


def _expire_chunk(*, program: Program, cards: QuerySet[Card], reason: str) -> list[dict]:
    """Lock the next chunk of `cards`, write one ledger row per card taking its whole
    balance, and zero the balances. Returns the chunk's rows (balances before expiry)."""
    ledger_params = [
        program.merchant_id,
        TransactionType.POINTS_EXPIRED.value,
        reason,
        connection.ops.adapt_datetimefield_value(timezone.now()),
    ]
    if connection.vendor == "postgresql":
        # One statement, as a hand-written pass would do it: no ids travel back and forth.
        chunk_sql, chunk_params = (
            _chunk_query(cards).values("pk", "points_balance").query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute(
                _EXPIRE_CHUNK_SQL.format(chunk=chunk_sql, columns=_LEDGER_COLUMNS),
                [*chunk_params, Card.WalletPassState.STALE.value, *ledger_params],
            )
            return [dict(zip(_RETURNED_FIELDS, row, strict=True)) for row in cursor.fetchall()]

    rows = _lock_chunk(cards)
    if rows:
        card_ids = [row["pk"] for row in rows]
        placeholders = ", ".join(["%s"] * len(card_ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO loyalty_transaction ({_LEDGER_COLUMNS}) "
                f"SELECT id, %s, NULL, %s, -points_balance, 0, 0, stamp_count, '', %s, '', %s "
                f"FROM loyalty_card WHERE id IN ({placeholders})",
                [*ledger_params, *card_ids],
            )
        Card.all_objects.filter(pk__in=card_ids).update(
            lifetime_points_expired=F("lifetime_points_expired") + F("points_balance"),
            points_balance=0,
            wallet_pass_state=Case(
                When(wallet_pass_state=Card.WalletPassState.NONE, then=Value("")),
                default=Value(Card.WalletPassState.STALE.value),
            ),
        )
    return rows


_CHUNK_FIELDS = (
    "pk",
    "points_balance",
    "last_activity_at",
    "number",
    "link_key",
    "enrolled_store_id",
    "customer_id",
    "customer__email",
    "customer__first_name",
)
_RETURNED_FIELDS = (
    "pk",
    "points_balance",
    "number",
    "link_key",
    "enrolled_store_id",
    "customer_id",
    "customer__email",
    "customer__first_name",
)
_LEDGER_COLUMNS = (
    "card_id, merchant_id, store_id, type, points_delta, points_balance_after, stamps_delta, "
    "stamps_balance_after, order_reference, reason, notes, created_at"
)
_EXPIRE_CHUNK_SQL = """
WITH chunk (id, points) AS ({chunk}),
expired AS (
    UPDATE loyalty_card AS card
    SET points_balance = 0,
        lifetime_points_expired = card.lifetime_points_expired + chunk.points,
        wallet_pass_state = CASE WHEN card.wallet_pass_state = '' THEN '' ELSE %s END
    FROM chunk
    WHERE card.id = chunk.id
    RETURNING card.id, chunk.points, card.stamp_count, card.number, card.link_key,
        card.enrolled_store_id, card.customer_id
),
ledger AS (
    INSERT INTO loyalty_transaction ({columns})
    SELECT id, %s, NULL, %s, -points, 0, 0, stamp_count, '', %s, '', %s FROM expired
)
SELECT expired.id, expired.points, expired.number, expired.link_key, expired.enrolled_store_id,
    expired.customer_id, customer.email, customer.first_name
FROM expired LEFT JOIN customers_customer AS customer ON customer.id = expired.customer_id
ORDER BY expired.id
"""


def _local_date(program: Program, moment: datetime.datetime) -> str:
    return moment.astimezone(ZoneInfo(program.merchant.timezone)).date().isoformat()


def _email(program: Program, row: dict, template: str, **context) -> EmailRequest:
    return EmailRequest(
        merchant_id=program.merchant_id,
        customer_id=row["customer_id"],
        store_id=row["enrolled_store_id"],
        card_id=row["pk"],
        to=row["customer__email"],
        template=template,
        context={
            "first_name": row["customer__first_name"],
            "merchant_name": program.merchant.name,
            "program_name": program.name,
            "card_number": card_numbers.display(row["number"]),
            "card_url": card_links.card_url(row["link_key"]),
            **context,
        },
    )
