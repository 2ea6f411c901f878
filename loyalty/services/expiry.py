"""Point expiration and the warnings before it.

A card's points expire `points_expiration_days` after its last activity: it expires when
`now >= last_activity_at + points_expiration_days` and it holds points. Expiry does not move
`last_activity_at`. A card whose expiry falls within the next `expiration_warning_days` gets one
"points expiring" email per expiry cycle: the cycle starts at its last activity, so a warning
given after that activity (`last_expiration_warning_at`) counts for the cycle.

The work is set-based. Per programme the cards are taken in chunks of CHUNK_SIZE with
`SELECT ... FOR UPDATE SKIP LOCKED`, walking them by primary key (`id > last id`, on the
(program, id) index), so each chunk reads only its own rows however many chunks came before,
in table order. Each chunk is one
transaction: one INSERT ... SELECT writes its ledger rows, one UPDATE zeroes its balances. Its
emails are queued after the commit, in one call.

Safe to crash, re-run and run twice at once: the chunk query re-checks the balance and the
activity threshold on the rows it locks, so a committed chunk is never expired again, a chunk
locked by another run is skipped (that run expires it), and a card locked by a terminal is
skipped too (the terminal's operation makes it active again). On SQLite, which has no row
locks, the chunk query is a plain select inside a write transaction.
"""

import datetime
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from loyalty import card_numbers
from loyalty.models import Card, Program, Transaction, TransactionType
from merchants.models import Merchant
from messaging.services import EmailRequest, queue_emails

CHUNK_SIZE = 500
EXPIRED_TEMPLATE = "points_expired"
EXPIRING_TEMPLATE = "points_expiring"

_EMAIL_FIELDS = ("pk", "number", "customer_id", "customer__email", "customer__first_name")


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
    for program in _programs_with_expiry(merchants):
        counts.programs += 1
        for rows in _expire_chunks(program=program, now=now):
            counts.cards += len(rows)
            counts.points += sum(row["points_balance"] for row in rows)
            if on_progress is not None:
                on_progress(len(rows))
        counts.warnings += warn_expiring_points(program=program, now=now)
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


def warn_expiring_points(*, program: Program, now: datetime.datetime) -> int:
    """Queue one "points expiring" email for each card of the programme whose expiry falls
    within its warning period and that has had no warning since its last activity."""
    warned = 0
    for rows in _chunks(
        _cards_to_warn(program, now), fields=_EMAIL_FIELDS, apply=_mark_warned(now)
    ):
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


def _expire_chunks(*, program: Program, now: datetime.datetime) -> Iterator[list[dict]]:
    reason = f"No activity for {program.points_expiration_days} days"

    def expire(card_ids: list[int]) -> None:
        _insert_expiry_rows(program=program, card_ids=card_ids, reason=reason)
        Card.all_objects.filter(pk__in=card_ids).update(
            lifetime_points_expired=F("lifetime_points_expired") + F("points_balance"),
            points_balance=0,
        )

    for rows in _chunks(_expirable_cards(program, now), fields=_EMAIL_FIELDS, apply=expire):
        queue_emails(
            [
                _email(
                    program,
                    row,
                    EXPIRED_TEMPLATE,
                    points_expired=row["points_balance"],
                    expired_on=_local_date(program, now),
                )
                for row in rows
                if row["customer_id"] is not None
            ]
        )
        yield rows


def _chunks(
    cards: QuerySet[Card], *, fields: tuple[str, ...], apply: Callable[[list[int]], None]
) -> Iterator[list[dict]]:
    """Lock the cards chunk by chunk, walking them by primary key; call `apply` with each
    chunk's ids inside its transaction, and yield the chunk's rows after the commit."""
    last_id = 0
    while True:
        with transaction.atomic(durable=True):
            rows = list(
                cards.filter(pk__gt=last_id)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values(*fields, "points_balance", "last_activity_at")[:CHUNK_SIZE]
            )
            if not rows:
                return
            apply([row["pk"] for row in rows])
        yield rows
        last_id = rows[-1]["pk"]


def _insert_expiry_rows(*, program: Program, card_ids: list[int], reason: str) -> None:
    """One ledger row per locked card, taking its whole balance, in one statement."""
    qn = connection.ops.quote_name
    columns = (
        "card_id",
        "merchant_id",
        "store_id",
        "type",
        "points_delta",
        "points_balance_after",
        "stamps_delta",
        "stamps_balance_after",
        "order_reference",
        "reason",
        "notes",
        "created_at",
    )
    placeholders = ", ".join(["%s"] * len(card_ids))
    sql = (
        f"INSERT INTO {qn(Transaction._meta.db_table)} ({', '.join(map(qn, columns))}) "
        f"SELECT id, %s, NULL, %s, -points_balance, 0, 0, stamp_count, '', %s, '', %s "
        f"FROM {qn(Card._meta.db_table)} WHERE id IN ({placeholders})"
    )
    params = [
        program.merchant_id,
        TransactionType.POINTS_EXPIRED.value,
        reason,
        connection.ops.adapt_datetimefield_value(timezone.now()),
        *card_ids,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _mark_warned(now: datetime.datetime) -> Callable[[list[int]], None]:
    def mark(card_ids: list[int]) -> None:
        Card.all_objects.filter(pk__in=card_ids).update(last_expiration_warning_at=now)

    return mark


def _local_date(program: Program, moment: datetime.datetime) -> str:
    return moment.astimezone(ZoneInfo(program.merchant.timezone)).date().isoformat()


def _email(program: Program, row: dict, template: str, **context) -> EmailRequest:
    return EmailRequest(
        merchant_id=program.merchant_id,
        customer_id=row["customer_id"],
        to=row["customer__email"],
        template=template,
        context={
            "first_name": row["customer__first_name"],
            "merchant_name": program.merchant.name,
            "program_name": program.name,
            "card_number": card_numbers.display(row["number"]),
            **context,
        },
    )
