"""The merchant's figures, read from the summaries that `loyalty.services.analytics_summaries`
refreshes (per merchant, store and day; per card and month; per card), never from the ledger's
millions of rows, except for churn at an instant before the last refresh.

The summaries count the ledger rows and cards made before their `as_of` (the last refresh):
every figure says so (`data_as_of`). Python only shapes the aggregated rows (a few per month
or day). Every read runs inside `analytics_reads()`, so it goes to the read replica when there
is one.

A *visit* is a row a customer's purchase or reward made: points earned or redeemed, a stamp
earned or stamps redeemed. Welcome bonuses (enrolment), adjustments, voids and expiry are the
programme's doing, not the customer's, and do not count as visits.
"""

import datetime
from dataclasses import dataclass
from functools import reduce
from itertools import chain
from operator import or_

from django.db import connections
from django.db.models import Case, Count, F, Max, Q, Sum, When
from django.db.models.functions import TruncMonth
from django.db.models.lookups import GreaterThan
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from loyalty.analytics.periods import Period, month_starts
from loyalty.analytics.router import analytics_reads
from loyalty.models import (
    AnalyticsCardMonth,
    AnalyticsCardStoreMonth,
    AnalyticsCardVisits,
    AnalyticsDay,
    AnalyticsMonth,
    AnalyticsSnapshot,
    Card,
    Program,
    TransactionType,
)
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
# Every day of a month, in a `*_days` bitmask.
WHOLE_MONTH = (1 << 31) - 1


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def data_as_of(period: Period) -> datetime.datetime | None:
    """The instant the merchant's summaries were computed up to; None before the first
    refresh (then every figure is empty)."""
    with analytics_reads():
        snapshot = AnalyticsSnapshot.objects.filter(merchant_id=period.merchant.pk).first()
    return snapshot.as_of if snapshot else None


def _day_rows(period: Period):
    """The merchant's per-day summary rows in the range (the store's, for a store)."""
    rows = AnalyticsDay.objects.filter(
        merchant_id=period.merchant.pk, day__gte=period.date_from, day__lte=period.date_to
    )
    if period.store is not None:
        rows = rows.filter(store_id=period.store.pk)
    return rows


def _distinct_cards(rows) -> int:
    """The number of cards among month rows. As a count of a DISTINCT subquery, which
    PostgreSQL can hash, where COUNT(DISTINCT ...) always sorts."""
    return rows.values("card_id").distinct().count()


def _day_mask(first_day: int, last_day: int) -> int:
    """The bits of the days from `first_day` to `last_day` of a month, both included."""
    return ((1 << last_day) - 1) & ~((1 << (first_day - 1)) - 1)


def _months(first: datetime.date, last: datetime.date):
    """The months from `first`'s to `last`'s: those the range covers whole, and the others
    with the bitmask of their days in the range."""
    whole, partial = [], []
    months = month_starts(first, last)
    for month in months:
        mask = _day_mask(
            first.day if month == months[0] else 1, last.day if month == months[-1] else 31
        )
        if mask == WHOLE_MONTH:
            whole.append(month)
        else:
            partial.append((month, mask))
    return whole, partial


def _on_partial_days(field: str, partial) -> Q:
    """Month rows of the partial months whose bitmask `field` has a day in the range."""
    return reduce(
        or_,
        (Q(month=month) & Q(GreaterThan(F(field).bitand(mask), 0)) for month, mask in partial),
        Q(pk__in=[]),
    )


def on_days(field: str, first: datetime.date, last: datetime.date) -> Q:
    """Month rows whose bitmask `field` has a day from `first` to `last` (both included):
    whole months by their month alone, a month the range starts or ends inside by its days."""
    whole, partial = _months(first, last)
    condition = _on_partial_days(field, partial)
    if whole:
        condition |= Q(month__in=whole) & ~Q(**{field: 0})
    # The bounds on their own too, so that the (merchant, month) index narrows the scan.
    return Q(month__gte=first.replace(day=1), month__lte=last.replace(day=1)) & condition


def counted_to(period: Period, snapshot) -> datetime.date:
    """The range's last day for the summaries: when the range reaches their as-of, nothing
    they hold comes after its last day, so its last month counts as a whole month."""
    if snapshot is None or period.end < snapshot.as_of:
        return period.date_to
    next_month = (period.date_to.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return next_month - datetime.timedelta(days=1)


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
    with analytics_reads():
        enrolled = (
            _day_rows(period)
            .filter(enrolments__gt=0)
            .annotate(cohort=TruncMonth("day"))
            .values("cohort")
            .annotate(cards=Sum("enrolments"))
            .order_by()
        )
        sizes = {row["cohort"]: row["cards"] for row in enrolled}
        visits = (
            AnalyticsCardMonth.objects.filter(
                on_days("visit_days", period.date_from, period.date_to),
                merchant_id=period.merchant.pk,
                enrolled_on__gte=period.date_from,
                enrolled_on__lte=period.date_to,
            )
            .annotate(cohort=TruncMonth("enrolled_on"))
            .values("cohort", "month")
            .annotate(cards=Count("id"))
            .order_by()
        )
        if period.store is not None:
            visits = visits.filter(enrolled_store_id=period.store.pk)
        active = {(row["cohort"], row["month"]): row["cards"] for row in visits}
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

# Each card's visits before %(as_of)s, the last one, and the median gap between two of them;
# the programme's median gap. Visits at the same instant need no tie-break: their gaps are the
# same either way. Medians by rank: the middle row, or the mean of the two middle rows, with
# integer division ((n + 1) / 2 and (n + 2) / 2 are the same row when n is odd). Window
# functions keep it one statement on both databases. The refresh stores `card_stats` and the
# programme's median; churn at an earlier instant computes them here.
VISIT_STATS_CTES = """
visits AS (
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
), card_stats AS (
    SELECT visits.card_id, COUNT(*) AS visits, MAX(visits.created_at) AS last_visit_at,
        MAX(card_medians.median_gap) AS median_gap
    FROM visits LEFT JOIN card_medians ON card_medians.card_id = visits.card_id
    GROUP BY visits.card_id
)"""

# The same two, as the last refresh stored them.
_STORED_STATS_CTES = """
card_stats AS (
    SELECT card_id, visits, last_visit_at, median_gap_seconds AS median_gap
    FROM {card_visits} WHERE merchant_id = %(merchant)s
), program_median AS (
    SELECT CAST(%(program_median)s AS double precision) AS median_gap
)"""

# The last SELECT always answers at least one row, carrying the programme's median even when
# no card is at risk.
_AT_RISK_SQL = """
WITH {stats_ctes}, silences AS (
    SELECT card.id, card.number, COALESCE(card_stats.visits, 0) AS visits,
        card.created_at AS enrolled_at, card_stats.last_visit_at,
        {silence_seconds} AS silence,
        CASE WHEN card_stats.visits >= 3 THEN card_stats.median_gap
             ELSE program_median.median_gap END AS median_gap
    FROM {card} AS card
    JOIN {program} AS program ON program.id = card.program_id
    LEFT JOIN card_stats ON card_stats.card_id = card.id
    CROSS JOIN program_median
    WHERE program.merchant_id = %(merchant)s AND card.deleted_at IS NULL AND card.is_active
        AND card.created_at < %(enrolled_before)s {store_condition}
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


def visit_stats_ctes(vendor: str) -> str:
    """`VISIT_STATS_CTES` for a database, with the tables' names."""
    return VISIT_STATS_CTES.format(
        ledger=LedgerRow._meta.db_table,
        # Constants of the code, not input.
        visit_types=", ".join(f"'{kind}'" for kind in VISIT_TYPES),
        gap_seconds=_SECONDS_BETWEEN[vendor].format(earlier="previous_at", later="created_at"),
    )


def churn_risk(*, period: Period, limit: int | None = None) -> Churn:
    """Live, active cards enrolled before the range's end whose silence then (since their
    last visit, or their enrolment if they never visited) is longer than twice their own
    median gap between visits; cards with fewer than 3 visits use the programme's median.
    Every visit up to the range's end counts, however old.

    A range that ends at or after the last refresh reads the visits as the refresh stored
    them (what the refresh counted, so cards enrolled since are left out); one that ends
    earlier is a snapshot of the past, computed from the ledger's visits before its end."""
    with analytics_reads() as alias:
        snapshot = AnalyticsSnapshot.objects.filter(merchant_id=period.merchant.pk).first()
        if snapshot is None:
            return Churn(
                as_of=period.end, program_median_gap_days=None, at_risk_count=0, at_risk=[]
            )
        connection = connections[alias]
        stored = period.end >= snapshot.as_of
        if stored:
            stats_ctes = _STORED_STATS_CTES.format(card_visits=AnalyticsCardVisits._meta.db_table)
        else:
            stats_ctes = visit_stats_ctes(connection.vendor)
        sql = _AT_RISK_SQL.format(
            stats_ctes=stats_ctes,
            card=Card._meta.db_table,
            program=Program._meta.db_table,
            silence_seconds=_SECONDS_BETWEEN[connection.vendor].format(
                earlier="COALESCE(card_stats.last_visit_at, card.created_at)",
                later="%(as_of)s",
            ),
            store_condition="AND card.enrolled_store_id = %(store)s" if period.store else "",
            limit="LIMIT %(limit)s" if limit is not None else "",
        )
        adapt = connection.ops.adapt_datetimefield_value
        params = {
            "merchant": period.merchant.pk,
            "as_of": adapt(period.end),
            "enrolled_before": adapt(snapshot.as_of if stored else period.end),
            "program_median": snapshot.program_median_gap_seconds,
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


def _card_months(period: Period):
    """The merchant's per-card month rows: of every store (visits, purchases, stamps anywhere),
    or, for a store, of what was done there."""
    if period.store is None:
        return AnalyticsCardMonth.objects.filter(merchant_id=period.merchant.pk)
    return AnalyticsCardStoreMonth.objects.filter(
        merchant_id=period.merchant.pk, store_id=period.store.pk
    )


def revenue_attribution(*, period: Period) -> Revenue:
    """Purchase amounts recorded on earn rows, per store per month (local time), per month
    and over the range, with the number of distinct cards that bought and so the average per
    member. An earn that was voided is left out: its purchase was taken back."""
    bought = on_days("purchase_days", period.date_from, period.date_to)
    with analytics_reads():
        sums = list(
            _day_rows(period)
            .filter(purchases__gt=0)
            .annotate(month=TruncMonth("day"))
            .values("month", "store_id")
            .annotate(revenue_cents=Sum("revenue_cents"), purchases=Sum("purchases"))
            .order_by()
        )
        # Whole months' members as the refresh counted them; the days of a month the range
        # starts or ends inside, from the card rows of that month.
        snapshot = AnalyticsSnapshot.objects.filter(merchant_id=period.merchant.pk).first()
        whole, partial = _months(period.date_from, counted_to(period, snapshot))
        counted = AnalyticsMonth.objects.filter(merchant_id=period.merchant.pk, month__in=whole)
        store_members = AnalyticsCardStoreMonth.objects.filter(
            _on_partial_days("purchase_days", partial), merchant_id=period.merchant.pk
        )
        if period.store is not None:
            counted = counted.filter(store_id=period.store.pk)
            store_members = store_members.filter(store_id=period.store.pk)
        members = {
            (month, store_id): count
            for month, store_id, count in chain(
                counted.filter(store__isnull=False).values_list("month", "store_id", "members"),
                store_members.values_list("month", "store_id").annotate(Count("id")).order_by(),
            )
        }
        if period.store is not None:
            month_members = {month: count for (month, _), count in members.items()}
        else:
            month_members = dict(
                chain(
                    counted.filter(store__isnull=True).values_list("month", "members"),
                    AnalyticsCardMonth.objects.filter(
                        _on_partial_days("purchase_days", partial),
                        merchant_id=period.merchant.pk,
                    )
                    .values_list("month")
                    .annotate(Count("id"))
                    .order_by(),
                )
            )
        total_members = _distinct_cards(_card_months(period).filter(bought))
        stores = Store.all_objects.filter(merchant_id=period.merchant.pk).in_bulk()
    store_lines = [
        RevenueLine(
            month=row["month"],
            store_code=stores[row["store_id"]].code,
            store_name=stores[row["store_id"]].name,
            revenue_cents=row["revenue_cents"],
            purchases=row["purchases"],
            members=members.get((row["month"], row["store_id"]), 0),
        )
        for row in sums
    ]
    months: dict[datetime.date, list[RevenueLine]] = {}
    for line in store_lines:
        months.setdefault(line.month, []).append(line)
    month_lines = [
        RevenueLine(
            month=month,
            store_code=None,
            store_name=None,
            revenue_cents=sum(line.revenue_cents for line in months[month]),
            purchases=sum(line.purchases for line in months[month]),
            members=month_members.get(month, 0),
        )
        for month in sorted(months)
    ]
    return Revenue(
        by_store=sorted(store_lines, key=lambda line: (line.month, line.store_code)),
        by_month=month_lines,
        total=RevenueLine(
            month=None,
            store_code=None,
            store_name=None,
            revenue_cents=sum(line.revenue_cents for line in store_lines),
            purchases=sum(line.purchases for line in store_lines),
            members=total_members,
        ),
    )


# Programme health ------------------------------------------------------------------------

# Points a programme gave (earns, welcome bonuses, adjustments either way, less voided earns),
# took back on redemption (less voided redemptions: a void of a redemption gives points back)
# and let expire.
POINTS_ISSUED = Q(
    type__in=[
        TransactionType.POINTS_EARNED,
        TransactionType.WELCOME_BONUS,
        TransactionType.POINTS_ADJUSTED,
    ]
) | Q(type=TransactionType.POINTS_VOIDED, points_delta__lt=0)
POINTS_REDEEMED = Q(type=TransactionType.POINTS_REDEEMED) | Q(
    type=TransactionType.POINTS_VOIDED, points_delta__gt=0
)
POINTS_EXPIRED = Q(type=TransactionType.POINTS_EXPIRED)
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
    with analytics_reads():
        snapshot = AnalyticsSnapshot.objects.filter(merchant_id=period.merchant.pk).first()
        per_day = {
            row["day"]: row
            for row in _day_rows(period)
            .values("day")
            .annotate(
                enrolments=Sum("enrolments"),
                issued=Sum("points_issued"),
                redeemed=Sum("points_redeemed"),
                expired=Sum("points_expired"),
            )
            .order_by()
        }
        # One pass: per card, whether one of its stamps in the range reached the target.
        stamps = (
            _card_months(period)
            .filter(on_days("stamp_days", period.date_from, period.date_to))
            .values("card_id")
            .annotate(
                reached=Max(
                    Case(
                        When(on_days("completion_days", period.date_from, period.date_to), then=1),
                        default=0,
                    )
                )
            )
            .order_by()
            .aggregate(cards=Count("card_id"), completed=Sum("reached", default=0))
        )
        # The cards as they are now (trashed or deactivated since are not live), among those
        # the refresh counted.
        live_cards = Card.objects.filter(program__merchant_id=period.merchant.pk, is_active=True)
        if snapshot is None:
            live_cards = live_cards.none()
        else:
            live_cards = live_cards.filter(created_at__lt=min(period.end, snapshot.as_of))
        if period.store is not None:
            live_cards = live_cards.filter(enrolled_store_id=period.store.pk)
        active_from = period.date_to - datetime.timedelta(days=ACTIVE_DAYS - 1)
        active = _distinct_cards(
            AnalyticsCardMonth.objects.filter(
                on_days("visit_days", active_from, period.date_to),
                merchant_id=period.merchant.pk,
                card_id__in=live_cards.values("id"),
            )
        )
        live_count = live_cards.count()
    empty = {"enrolments": 0, "issued": 0, "redeemed": 0, "expired": 0}
    days = [
        HealthDay(
            day=day,
            enrolments=per_day.get(day, empty)["enrolments"],
            points_issued=per_day.get(day, empty)["issued"],
            points_redeemed=per_day.get(day, empty)["redeemed"],
            points_expired=per_day.get(day, empty)["expired"],
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
        active_cards=active,
        live_cards=live_count,
    )
