"""The analytics summaries: rewritten whole per merchant, set-based, from the ledger and the
cards, by the periodic `loyalty.refresh_analytics` job (and after loading the demo data).

Each refresh counts the rows and cards made before its `as_of`, in one transaction per
merchant: readers see the previous summaries until it commits, never half of a refresh, and
a refresh with the same `as_of` writes the same rows again. Every aggregation runs in the
database (`INSERT ... SELECT` of an ORM query); nothing walks ledger rows in Python. Nothing
here touches the ledger's write path: a terminal's earn pays nothing for the figures.
"""

import datetime
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Cast, ExtractDay, TruncDate, TruncMonth
from django.utils import timezone

from loyalty.analytics.selectors import (
    POINTS_EXPIRED,
    POINTS_ISSUED,
    POINTS_REDEEMED,
    VISIT_TYPES,
    visit_stats_ctes,
)
from loyalty.models import (
    AnalyticsCardMonth,
    AnalyticsCardStoreMonth,
    AnalyticsCardVisits,
    AnalyticsDay,
    AnalyticsMonth,
    AnalyticsSnapshot,
    Card,
    TransactionType,
)
from loyalty.models import Transaction as LedgerRow
from merchants.models import Merchant

SUMMARIES = (
    AnalyticsDay,
    AnalyticsCardMonth,
    AnalyticsCardStoreMonth,
    AnalyticsMonth,
    AnalyticsCardVisits,
)


def refresh_all_analytics(*, as_of: datetime.datetime) -> dict[str, int]:
    """Every merchant's summaries, one transaction each."""
    counts = {"merchants": 0, "card_months": 0}
    for merchant in Merchant.all_objects.order_by("pk"):
        refreshed = refresh_analytics(merchant=merchant, as_of=as_of)
        counts["merchants"] += 1
        counts["card_months"] += refreshed["card_months"]
    return counts


@transaction.atomic(durable=True)
def refresh_analytics(*, merchant: Merchant, as_of: datetime.datetime) -> dict[str, int]:
    """Rewrite the merchant's summaries from the rows and cards made before `as_of`."""
    # Two refreshes of one merchant take turns on its snapshot row. Before the first refresh
    # there is no row to wait on: the second then fails on a key the first wrote (or the
    # lock timeout waiting for it) and rolls back, leaving the first's rows.
    AnalyticsSnapshot.objects.select_for_update().filter(merchant=merchant).first()
    for model in SUMMARIES:
        model.objects.filter(merchant=merchant).delete()
    tz = ZoneInfo(merchant.timezone)
    ledger = LedgerRow.objects.filter(merchant_id=merchant.pk, created_at__lt=as_of).order_by()
    counts = {
        "days": _insert(AnalyticsDay, _ledger_days(ledger, tz))
        + _insert(AnalyticsDay, _enrolment_days(merchant, as_of, tz)),
        # In month order, so that a range of months is a range of the table's pages.
        "card_months": _insert(AnalyticsCardMonth, _card_months(ledger, tz).order_by("month")),
        "card_store_months": _insert(
            AnalyticsCardStoreMonth, _card_store_months(ledger, tz).order_by("month")
        ),
        # Counted from the card rows just written.
        "months": _insert(AnalyticsMonth, _store_month_members(merchant))
        + _insert(AnalyticsMonth, _month_members(merchant)),
        "cards": _insert_card_visits(merchant, as_of),
    }
    AnalyticsSnapshot.objects.update_or_create(
        merchant=merchant,
        defaults={
            "as_of": as_of,
            "program_median_gap_seconds": _program_median_gap(merchant, as_of),
            "refreshed_at": timezone.now(),
        },
    )
    return counts


def _insert(model, rows) -> int:
    """INSERT the rows of an aggregate query (`values(...).annotate(...)`, whose selected
    names are the model's columns) into the model's table; the number inserted."""
    query = rows.query
    columns = [*query.values_select, *query.annotation_select]
    names = [model._meta.get_field(name).column for name in columns]
    select, params = query.get_compiler(connection=connection).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) {select}", params)
        return cursor.rowcount


def _standing_purchase() -> Q:
    """An earn with a purchase amount that no void took back."""
    voided = LedgerRow.objects.filter(voids__isnull=False, voids=OuterRef("pk"))
    return Q(type=TransactionType.POINTS_EARNED, purchase_amount_cents__isnull=False) & ~Q(
        Exists(voided)
    )


def _ledger_days(ledger, tz):
    points_issued = Sum("points_delta", filter=POINTS_ISSUED, default=0)
    return (
        ledger.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("merchant", "store", "day")
        .annotate(
            points_issued=points_issued,
            points_redeemed=Sum(-F("points_delta"), filter=POINTS_REDEEMED, default=0),
            points_expired=Sum(-F("points_delta"), filter=POINTS_EXPIRED, default=0),
            revenue_cents=Sum("purchase_amount_cents", filter=_standing_purchase(), default=0),
            purchases=Count("id", filter=_standing_purchase()),
        )
    )


def _enrolment_days(merchant, as_of, tz):
    """Cards by enrolling store and local day, trashed ones too: their enrolment happened."""
    return (
        Card.all_objects.filter(program__merchant_id=merchant.pk, created_at__lt=as_of)
        .order_by()
        .annotate(
            merchant=Value(merchant.pk),
            store=F("enrolled_store"),
            day=TruncDate("created_at", tzinfo=tz),
        )
        .values("merchant", "store", "day")
        .annotate(enrolments=Count("id"))
    )


def _day_bits(kinds: Q | None, tz):
    """The row's local day as a bit of its month's bitmask when the row is of `kinds`, else
    0; summed DISTINCT per month, the bits OR into the month's mask on both databases."""
    day = Cast(ExtractDay(TruncDate("created_at", tzinfo=tz)), IntegerField())
    bit = Value(1).bitleftshift(day - 1)
    if kinds is None:
        return Sum(bit, distinct=True)
    return Sum(Case(When(kinds, then=bit), default=0), distinct=True)


def _month(tz):
    return TruncMonth(TruncDate("created_at", tzinfo=tz))


def _completions() -> Q:
    return Q(
        type=TransactionType.STAMP_EARNED,
        stamps_balance_after__gte=F("card__program__stamps_target"),
    )


def _card_months(ledger, tz):
    return (
        ledger.filter(type__in=VISIT_TYPES)
        .annotate(
            month=_month(tz),
            enrolled_on=TruncDate("card__created_at", tzinfo=tz),
            enrolled_store=F("card__enrolled_store"),
        )
        .values("merchant", "card", "month", "enrolled_on", "enrolled_store")
        .annotate(
            visit_days=_day_bits(None, tz),
            purchase_days=_day_bits(_standing_purchase(), tz),
            stamp_days=_day_bits(Q(type=TransactionType.STAMP_EARNED), tz),
            completion_days=_day_bits(_completions(), tz),
        )
    )


def _card_store_months(ledger, tz):
    return (
        ledger.filter(
            Q(type=TransactionType.STAMP_EARNED) | _standing_purchase(), store__isnull=False
        )
        .annotate(month=_month(tz))
        .values("merchant", "card", "store", "month")
        .annotate(
            purchase_days=_day_bits(_standing_purchase(), tz),
            stamp_days=_day_bits(Q(type=TransactionType.STAMP_EARNED), tz),
            completion_days=_day_bits(_completions(), tz),
        )
    )


def _store_month_members(merchant: Merchant):
    return (
        AnalyticsCardStoreMonth.objects.filter(merchant=merchant)
        .exclude(purchase_days=0)
        .values("merchant", "store", "month")
        .annotate(members=Count("id"))
        .order_by()
    )


def _month_members(merchant: Merchant):
    """Every store's: `store` left null."""
    return (
        AnalyticsCardMonth.objects.filter(merchant=merchant)
        .exclude(purchase_days=0)
        .values("merchant", "month")
        .annotate(members=Count("id"))
        .order_by()
    )


def _insert_card_visits(merchant: Merchant, as_of: datetime.datetime) -> int:
    table = AnalyticsCardVisits._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {visit_stats_ctes(connection.vendor)} "
            f"INSERT INTO {table} (card_id, merchant_id, visits, last_visit_at, "
            "median_gap_seconds) "
            "SELECT card_id, %(merchant)s, visits, last_visit_at, median_gap FROM card_stats",
            _stats_params(merchant, as_of),
        )
        return cursor.rowcount


def _program_median_gap(merchant: Merchant, as_of: datetime.datetime) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {visit_stats_ctes(connection.vendor)} SELECT median_gap FROM program_median",
            _stats_params(merchant, as_of),
        )
        median = cursor.fetchone()[0]
    return None if median is None else float(median)


def _stats_params(merchant: Merchant, as_of: datetime.datetime) -> dict:
    return {
        "merchant": merchant.pk,
        "as_of": connection.ops.adapt_datetimefield_value(as_of),
    }
