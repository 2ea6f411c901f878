"""The merchant's figures, each computed by aggregation in the database.

Python only shapes the aggregated rows (a few per month or day), never walks ledger rows.
Every read runs inside `analytics_reads()`, so it goes to the read replica when there is one.

A *visit* is a row a customer's purchase or reward made: points earned or redeemed, a stamp
earned or stamps redeemed. Welcome bonuses (enrolment), adjustments, voids and expiry are the
programme's doing, not the customer's, and do not count as visits.
"""

import datetime
from dataclasses import dataclass

from django.db import connections
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.analytics.periods import Period, month_starts
from loyalty.analytics.router import analytics_reads
from loyalty.models import Card, Program, TransactionType
from loyalty.models import Transaction as LedgerRow
from merchants.models import Store

VISIT_TYPES = (
    TransactionType.POINTS_EARNED,
    TransactionType.POINTS_REDEEMED,
    TransactionType.STAMP_EARNED,
    TransactionType.STAMP_REDEEMED,
)
ACTIVE_DAYS = 30
SECONDS_PER_DAY = 86400


def _ledger(period: Period, *, at_store: bool = True):
    rows = LedgerRow.objects.filter(
        merchant_id=period.merchant.pk, created_at__gte=period.start, created_at__lt=period.end
    )
    if at_store and period.store is not None:
        rows = rows.filter(store_id=period.store.pk)
    return rows


def _cards(period: Period):
    """Every card of the merchant, trashed ones too (their history happened), narrowed to the
    period's store by the store that enrolled them."""
    cards = Card.all_objects.filter(program__merchant_id=period.merchant.pk)
    if period.store is not None:
        cards = cards.filter(enrolled_store_id=period.store.pk)
    return cards


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# Cohort retention ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    month: datetime.date
    cards: int
    # Cards with at least one visit in the enrolment month (index 0) and each month after it,
    # up to the range's last month.
    active: list[int]

    @property
    def shares(self) -> list[float | None]:
        return [_share(active, self.cards) for active in self.active]


def cohort_retention(*, period: Period) -> list[Cohort]:
    """Cards enrolled in the range, grouped by enrolment month (local time); for each month
    from then to the range's end, how many of them visited in it."""
    tz = period.tzinfo
    with analytics_reads():
        enrolled = (
            _cards(period)
            .filter(created_at__gte=period.start, created_at__lt=period.end)
            .annotate(cohort=TruncMonth("created_at", tzinfo=tz))
            .values("cohort")
            .annotate(cards=Count("id"))
            .order_by()
        )
        sizes = {row["cohort"].date(): row["cards"] for row in enrolled}
        visits = (
            _ledger(period, at_store=False)
            .filter(
                type__in=VISIT_TYPES,
                card__created_at__gte=period.start,
                card__created_at__lt=period.end,
            )
            .annotate(
                cohort=TruncMonth("card__created_at", tzinfo=tz),
                month=TruncMonth("created_at", tzinfo=tz),
            )
            .values("cohort", "month")
            .annotate(cards=Count("card_id", distinct=True))
            .order_by()
        )
        if period.store is not None:
            visits = visits.filter(card__enrolled_store_id=period.store.pk)
        active = {(row["cohort"].date(), row["month"].date()): row["cards"] for row in visits}
    last_month = period.date_to.replace(day=1)
    return [
        Cohort(
            month=cohort,
            cards=sizes[cohort],
            active=[active.get((cohort, month), 0) for month in month_starts(cohort, last_month)],
        )
        for cohort in sorted(sizes)
    ]


# Churn risk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRiskCard:
    card_id: int
    number: str
    visits: int
    enrolled_at: datetime.datetime
    last_visit_at: datetime.datetime | None
    silence_days: float
    median_gap_days: float
    # False: fewer than 3 visits, so the programme's median gap stands in for the card's.
    own_median: bool


@dataclass(frozen=True)
class Churn:
    as_of: datetime.datetime
    # The median of every gap between two consecutive visits of the merchant's cards; None
    # before any card has visited twice.
    program_median_gap_days: float | None
    at_risk_count: int
    # Most overdue first (silence over median gap); at most the limit asked for.
    at_risk: list[AtRiskCard]


# Seconds between two timestamps: the one expression the two databases write differently.
_SECONDS_BETWEEN = {
    "postgresql": "EXTRACT(EPOCH FROM (CAST({later} AS timestamptz) - {earlier}))",
    "sqlite": "((julianday({later}) - julianday({earlier})) * 86400.0)",
}

# Visits at the same instant need no tie-break: their gaps are the same either way.
# Medians by rank: the middle row, or the mean of the two middle rows, with integer division
# ((n + 1) / 2 and (n + 2) / 2 are the same row when n is odd). Window functions keep it one
# statement on both databases. The last SELECT always answers at least one row, carrying the
# programme's median even when no card is at risk.
_CHURN_SQL = """
WITH visits AS (
    SELECT card_id, created_at,
        LAG(created_at) OVER (PARTITION BY card_id ORDER BY created_at) AS previous_at
    FROM {ledger}
    WHERE merchant_id = %(merchant)s AND type IN ({visit_types}) AND created_at < %(as_of)s
), gaps AS (
    SELECT card_id, {gap_seconds} AS gap FROM visits WHERE previous_at IS NOT NULL
), ranked_gaps AS (
    SELECT card_id, gap,
        ROW_NUMBER() OVER (PARTITION BY card_id ORDER BY gap) AS card_rank,
        COUNT(*) OVER (PARTITION BY card_id) AS card_gaps,
        ROW_NUMBER() OVER (ORDER BY gap) AS program_rank,
        COUNT(*) OVER () AS program_gaps
    FROM gaps
), card_medians AS (
    SELECT card_id, AVG(gap) AS median_gap FROM ranked_gaps
    WHERE card_rank IN ((card_gaps + 1) / 2, (card_gaps + 2) / 2)
    GROUP BY card_id
), program_median AS (
    SELECT AVG(gap) AS median_gap FROM ranked_gaps
    WHERE program_rank IN ((program_gaps + 1) / 2, (program_gaps + 2) / 2)
), card_visits AS (
    SELECT card_id, COUNT(*) AS visits, MAX(created_at) AS last_visit_at
    FROM visits GROUP BY card_id
), silences AS (
    SELECT card.id, card.number, COALESCE(card_visits.visits, 0) AS visits,
        card.created_at AS enrolled_at, card_visits.last_visit_at,
        {silence_seconds} AS silence,
        CASE WHEN card_visits.visits >= 3 THEN card_medians.median_gap
             ELSE program_median.median_gap END AS median_gap
    FROM {card} AS card
    JOIN {program} AS program ON program.id = card.program_id
    LEFT JOIN card_visits ON card_visits.card_id = card.id
    LEFT JOIN card_medians ON card_medians.card_id = card.id
    CROSS JOIN program_median
    WHERE program.merchant_id = %(merchant)s AND card.deleted_at IS NULL AND card.is_active
        AND card.created_at < %(as_of)s {store_condition}
), at_risk AS (
    SELECT *, silence / median_gap AS overdue FROM silences
    WHERE median_gap > 0 AND silence > 2 * median_gap
)
SELECT program_median.median_gap, (SELECT COUNT(*) FROM at_risk),
    listed.id, listed.number, listed.visits, listed.enrolled_at, listed.last_visit_at,
    listed.silence, listed.median_gap
FROM program_median
LEFT JOIN (SELECT * FROM at_risk ORDER BY overdue DESC, id {limit}) AS listed ON 1 = 1
ORDER BY listed.overdue DESC, listed.id
"""


def churn_risk(*, period: Period, limit: int | None = None) -> Churn:
    """Live, active cards enrolled before the range's end whose silence then (since their
    last visit, or their enrolment if they never visited) is longer than twice their own
    median gap between visits; cards with fewer than 3 visits use the programme's median.
    Every visit up to the range's end counts, however old."""
    with analytics_reads() as alias:
        connection = connections[alias]
        seconds_between = _SECONDS_BETWEEN[connection.vendor]
        sql = _CHURN_SQL.format(
            ledger=LedgerRow._meta.db_table,
            card=Card._meta.db_table,
            program=Program._meta.db_table,
            # Constants of the code, not input.
            visit_types=", ".join(f"'{kind}'" for kind in VISIT_TYPES),
            gap_seconds=seconds_between.format(earlier="previous_at", later="created_at"),
            silence_seconds=seconds_between.format(
                earlier="COALESCE(card_visits.last_visit_at, card.created_at)",
                later="%(as_of)s",
            ),
            store_condition="AND card.enrolled_store_id = %(store)s" if period.store else "",
            limit="LIMIT %(limit)s" if limit is not None else "",
        )
        params = {
            "merchant": period.merchant.pk,
            "as_of": connection.ops.adapt_datetimefield_value(period.end),
            "store": period.store.pk if period.store else None,
            "limit": limit,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    program_median, at_risk_count = rows[0][0], rows[0][1]
    return Churn(
        as_of=period.end,
        program_median_gap_days=_days(program_median),
        at_risk_count=at_risk_count,
        at_risk=[
            AtRiskCard(
                card_id=card_id,
                number=number,
                visits=visits,
                enrolled_at=_aware(enrolled_at),
                last_visit_at=_aware(last_visit_at),
                silence_days=_days(silence),
                median_gap_days=_days(median_gap),
                own_median=visits >= 3,
            )
            for _, _, card_id, number, visits, enrolled_at, last_visit_at, silence, median_gap in (
                rows
            )
            if card_id is not None
        ],
    )


def _days(seconds) -> float | None:
    return None if seconds is None else float(seconds) / SECONDS_PER_DAY


def _aware(value: datetime.datetime | str | None) -> datetime.datetime | None:
    """A timestamp from the hand-written query as the ORM gives it: aware, in UTC (SQLite
    answers text in UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, datetime.UTC)
    return value


# Revenue attribution ---------------------------------------------------------------------


@dataclass(frozen=True)
class RevenueLine:
    """Purchases on earn rows (not voided) in one month, at one store or all of them."""

    month: datetime.date | None
    store_code: str | None
    store_name: str | None
    revenue_cents: int
    purchases: int
    members: int

    @property
    def per_member_cents(self) -> float | None:
        return _share(self.revenue_cents, self.members)


@dataclass(frozen=True)
class Revenue:
    by_store: list[RevenueLine]
    by_month: list[RevenueLine]
    total: RevenueLine


def revenue_attribution(*, period: Period) -> Revenue:
    """Purchase amounts recorded on earn rows, per store per month (local time), per month
    and over the range, with the number of distinct cards that bought and so the average per
    member. An earn that was voided is left out: its purchase was taken back."""
    tz = period.tzinfo
    figures = {
        "revenue_cents": Sum("purchase_amount_cents"),
        "purchases": Count("id"),
        "members": Count("card_id", distinct=True),
    }
    with analytics_reads():
        # An earn is voided when a row points at it. Only void rows have `voids` set: asking
        # for them first lets PostgreSQL read them off their unique index instead of hashing
        # the whole ledger.
        voided = LedgerRow.objects.filter(voids__isnull=False, voids=OuterRef("pk"))
        earns = (
            _ledger(period)
            .filter(type=TransactionType.POINTS_EARNED, purchase_amount_cents__isnull=False)
            .exclude(Exists(voided))
        )
        by_store = (
            earns.annotate(month=TruncMonth("created_at", tzinfo=tz))
            .values("month", "store_id")
            .annotate(**figures)
            .order_by("month", "store_id")
        )
        by_month = (
            earns.annotate(month=TruncMonth("created_at", tzinfo=tz))
            .values("month")
            .annotate(**figures)
            .order_by("month")
        )
        total = earns.aggregate(**figures)
        stores = Store.all_objects.filter(merchant_id=period.merchant.pk).in_bulk()
        store_lines = [
            RevenueLine(
                month=row["month"].date(),
                store_code=stores[row["store_id"]].code,
                store_name=stores[row["store_id"]].name,
                revenue_cents=row["revenue_cents"],
                purchases=row["purchases"],
                members=row["members"],
            )
            for row in by_store
        ]
        month_lines = [
            RevenueLine(
                month=row["month"].date(),
                store_code=None,
                store_name=None,
                revenue_cents=row["revenue_cents"],
                purchases=row["purchases"],
                members=row["members"],
            )
            for row in by_month
        ]
    return Revenue(
        by_store=sorted(store_lines, key=lambda line: (line.month, line.store_code)),
        by_month=month_lines,
        total=RevenueLine(
            month=None,
            store_code=None,
            store_name=None,
            revenue_cents=total["revenue_cents"] or 0,
            purchases=total["purchases"],
            members=total["members"],
        ),
    )


# Programme health ------------------------------------------------------------------------

# Points a programme gave (earns, welcome bonuses, adjustments either way, less voided earns),
# took back on redemption (less voided redemptions: a void of a redemption gives points back)
# and let expire.
_POINTS_ISSUED = Q(
    type__in=[
        TransactionType.POINTS_EARNED,
        TransactionType.WELCOME_BONUS,
        TransactionType.POINTS_ADJUSTED,
    ]
) | Q(type=TransactionType.POINTS_VOIDED, points_delta__lt=0)
_POINTS_REDEEMED = Q(type=TransactionType.POINTS_REDEEMED) | Q(
    type=TransactionType.POINTS_VOIDED, points_delta__gt=0
)
_POINTS_EXPIRED = Q(type=TransactionType.POINTS_EXPIRED)
_POINTS_FIGURES = {
    "issued": Coalesce(Sum("points_delta", filter=_POINTS_ISSUED), 0),
    "redeemed": Coalesce(Sum(-F("points_delta"), filter=_POINTS_REDEEMED), 0),
    "expired": Coalesce(Sum(-F("points_delta"), filter=_POINTS_EXPIRED), 0),
}
# The seed's line: a programme whose members redeem less than this share of what they are
# given is not motivating them.
HEALTHY_REDEMPTION_RATE = 0.3


@dataclass(frozen=True)
class HealthDay:
    day: datetime.date
    enrolments: int
    points_issued: int
    points_redeemed: int
    points_expired: int


@dataclass(frozen=True)
class Health:
    days: list[HealthDay]
    enrolments: int
    points_issued: int
    points_redeemed: int
    points_expired: int
    # Cards that earned a stamp in the range, and those of them that reached the stamps
    # target with one.
    stamp_cards: int
    stamp_cards_completed: int
    # Live, active cards with a visit in the 30 days before the range's end.
    active_cards: int
    live_cards: int

    @property
    def redemption_rate(self) -> float | None:
        return _share(self.points_redeemed, self.points_issued)

    @property
    def redemption_is_healthy(self) -> bool | None:
        rate = self.redemption_rate
        return None if rate is None else rate > HEALTHY_REDEMPTION_RATE

    @property
    def stamp_completion_rate(self) -> float | None:
        return _share(self.stamp_cards_completed, self.stamp_cards)


def programme_health(*, period: Period) -> Health:
    """Enrolments and points issued, redeemed and expired per day (local time), over the
    range; the redemption and stamp completion rates; active cards at the range's end."""
    tz = period.tzinfo
    with analytics_reads():
        enrolments = dict(
            _cards(period)
            .filter(created_at__gte=period.start, created_at__lt=period.end)
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .values_list("day")
            .annotate(Count("id"))
            .order_by()
        )
        points = {
            row["day"]: row
            for row in _ledger(period)
            .annotate(day=TruncDate("created_at", tzinfo=tz))
            .values("day")
            .annotate(**_POINTS_FIGURES)
            .order_by()
        }
        stamps = (
            _ledger(period)
            .filter(type=TransactionType.STAMP_EARNED)
            .aggregate(
                cards=Count("card_id", distinct=True),
                completed=Count(
                    "card_id",
                    distinct=True,
                    filter=Q(stamps_balance_after__gte=F("card__program__stamps_target")),
                ),
            )
        )
        live_cards = _cards(period).filter(
            deleted_at__isnull=True, is_active=True, created_at__lt=period.end
        )
        active_since = period.end - datetime.timedelta(days=ACTIVE_DAYS)
        active = LedgerRow.objects.filter(
            merchant_id=period.merchant.pk,
            type__in=VISIT_TYPES,
            created_at__gte=active_since,
            created_at__lt=period.end,
            card__in=live_cards,
        ).aggregate(cards=Count("card_id", distinct=True))
        live_count = live_cards.count()
    empty = {"issued": 0, "redeemed": 0, "expired": 0}
    days = [
        HealthDay(
            day=day,
            enrolments=enrolments.get(day, 0),
            points_issued=points.get(day, empty)["issued"],
            points_redeemed=points.get(day, empty)["redeemed"],
            points_expired=points.get(day, empty)["expired"],
        )
        for day in period.days
    ]
    return Health(
        days=days,
        enrolments=sum(day.enrolments for day in days),
        points_issued=sum(day.points_issued for day in days),
        points_redeemed=sum(day.points_redeemed for day in days),
        points_expired=sum(day.points_expired for day in days),
        stamp_cards=stamps["cards"],
        stamp_cards_completed=stamps["completed"],
        active_cards=active["cards"],
        live_cards=live_count,
    )
