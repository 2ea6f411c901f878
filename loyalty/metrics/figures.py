"""The business figures, read from the database by a worker and kept in the cache for the
scrapes of `/metrics`, so that a scrape reads nothing heavy, whatever the size of the
platform. A scrape that finds them older than FIGURES_REFRESH_SECONDS asks a worker for new
ones (`loyalty.refresh_metrics_figures`, at most once per FIGURES_REFRESH_SECONDS: the
cache's add() is the throttle) and answers with the last ones meanwhile. Without a broker the
task runs in the scrape's process. With several processes the cache must be shared
(CACHE_URL).

Churn risk is counted per merchant from the analytics' summaries, a tenth of a second for a
large merchant: a worker counts it again only every AT_RISK_REFRESH_SECONDS, since a card's
risk moves in days."""

import datetime
import logging
import time

from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from loyalty.analytics.periods import Period, local_today
from loyalty.analytics.router import analytics_reads
from loyalty.analytics.selectors import ACTIVE_DAYS, churn_risk
from loyalty.metrics.tasks import RECORDED_TASKS, SENDER_LAST_SUCCESS_KEY
from loyalty.models import Card, Program, TaskRun, Transaction, TransactionType
from loyalty.tasks import SYNC_WALLET_PASSES, refresh_metrics_figures
from merchants.models import Merchant
from messaging.tasks import SEND_QUEUED_EMAILS

logger = logging.getLogger(__name__)

FIGURES_KEY = "metrics:business-figures"
FIGURES_REFRESH_SECONDS = 60
FIGURES_REFRESH_ASKED_KEY = "metrics:business-figures:refresh-asked"
# Kept well past their refresh: a worker down for a while leaves the last figures showing
# (the last successes are instants, so the staleness alerts still fire).
FIGURES_KEPT_SECONDS = 24 * 60 * 60
AT_RISK_REFRESH_SECONDS = 15 * 60


def read_figures() -> dict:
    """Every per-merchant figure but churn risk, the task runs' last successes and the wallet
    sync runs' failure ratios: a few grouped queries, whatever the number of merchants."""
    now = timezone.now()
    with analytics_reads():
        merchants = dict(Merchant.objects.values_list("pk", "slug"))
        live = Q(deleted_at__isnull=True, is_active=True)
        cards = {
            row.pop("program__merchant_id"): row
            for row in Card.all_objects.values("program__merchant_id")
            .annotate(
                enrolments=Count("id"),
                points_earned=Sum("lifetime_points_earned"),
                points_redeemed=Sum("lifetime_points_redeemed"),
                points_expired=Sum("lifetime_points_expired"),
                cards=Count("id", filter=live),
                active_cards=Count(
                    "id",
                    filter=live
                    & Q(last_activity_at__gte=now - datetime.timedelta(days=ACTIVE_DAYS)),
                ),
                wallet_cards=Count(
                    "id",
                    filter=Q(deleted_at__isnull=True)
                    & ~Q(wallet_pass_state=Card.WalletPassState.NONE),
                ),
            )
            .order_by()
        }
        # Partial indexes on the ledger (ledger_adjusted_up, ledger_stamps_redeemed) keep
        # these two off the ledger's bulk.
        adjusted_up = dict(
            Transaction.objects.filter(type=TransactionType.POINTS_ADJUSTED, points_delta__gt=0)
            .values_list("merchant_id")
            .annotate(Sum("points_delta"))
            .order_by()
        )
        stamp_completions = dict(
            Transaction.objects.filter(type=TransactionType.STAMP_REDEEMED)
            .values_list("merchant_id")
            # COUNT(*): the partial index alone answers it (an index-only scan).
            .annotate(completions=Count("*"))
            .order_by()
        )
        programs = dict(Program.objects.values_list("merchant_id").annotate(Count("id")).order_by())
        last_successes = dict(
            TaskRun.objects.filter(
                task__in=RECORDED_TASKS, scope="", status=TaskRun.Status.SUCCEEDED
            )
            .values_list("task")
            .annotate(Max("finished_at"))
            .order_by()
        )
        sync_runs = list(
            TaskRun.objects.filter(
                task=SYNC_WALLET_PASSES, scope="", status=TaskRun.Status.SUCCEEDED
            )
            .order_by("-finished_at")
            .values_list("counts", flat=True)[:2]
        )
    per_merchant = {}
    for merchant_id, slug in merchants.items():
        row = cards.get(merchant_id, {})
        per_merchant[slug] = {
            "enrolments": row.get("enrolments", 0),
            "points_issued": (row.get("points_earned") or 0) + adjusted_up.get(merchant_id, 0),
            "points_redeemed": row.get("points_redeemed") or 0,
            "points_expired": row.get("points_expired") or 0,
            "stamp_completions": stamp_completions.get(merchant_id, 0),
            "cards": row.get("cards", 0),
            "active_cards": row.get("active_cards", 0),
            "wallet_cards": row.get("wallet_cards", 0),
            "active_programs": programs.get(merchant_id, 0),
        }
    last_success = {task: at.timestamp() for task, at in last_successes.items()}
    sender_success = cache.get(SENDER_LAST_SUCCESS_KEY)
    if sender_success is not None:
        last_success[SEND_QUEUED_EMAILS] = sender_success
    return {
        "merchants": per_merchant,
        "last_success": last_success,
        "wallet_failure_ratios": dict(
            zip(("last", "previous"), map(_failure_ratio, sync_runs), strict=False)
        ),
    }


def _failure_ratio(counts: dict) -> float:
    tried = counts.get("pushed", 0) + counts.get("failed", 0)
    return counts.get("failed", 0) / tried if tried else 0.0


def read_at_risk_cards() -> dict[str, int]:
    """Cards at churn risk today, per merchant, by the analytics' definition."""
    at_risk = {}
    for merchant in Merchant.objects.all():
        today = local_today(merchant)
        period = Period(merchant=merchant, date_from=today, date_to=today)
        at_risk[merchant.slug] = churn_risk(period=period, limit=0).at_risk_count
    return at_risk


def store_figures() -> None:
    """Read the figures and keep them for the scrapes (the task's work); churn risk is
    counted again only when its last count is older than AT_RISK_REFRESH_SECONDS."""
    previous = cache.get(FIGURES_KEY)
    figures = read_figures()
    now = time.time()
    if previous and previous["at_risk_counted_at"] >= now - AT_RISK_REFRESH_SECONDS:
        figures["at_risk"] = previous["at_risk"]
        figures["at_risk_counted_at"] = previous["at_risk_counted_at"]
    else:
        figures["at_risk"] = read_at_risk_cards()
        figures["at_risk_counted_at"] = now
    figures["read_at"] = now
    cache.set(FIGURES_KEY, figures, FIGURES_KEPT_SECONDS)


def current_figures() -> dict | None:
    """The last figures a worker read; a new read is asked for when they are stale."""
    figures = cache.get(FIGURES_KEY)
    stale = figures is None or figures["read_at"] < time.time() - FIGURES_REFRESH_SECONDS
    if stale and cache.add(FIGURES_REFRESH_ASKED_KEY, True, FIGURES_REFRESH_SECONDS):
        try:
            refresh_metrics_figures.delay()
        except Exception:  # kombu raises transport-specific errors
            # The scrape still answers, with the last figures; a later one asks again.
            logger.exception("Could not ask a worker to read the business figures")
        # Without a broker the task has just run in this process.
        figures = cache.get(FIGURES_KEY) or figures
    return figures


_NO_FIGURES = {"merchants": {}, "at_risk": {}, "last_success": {}, "wallet_failure_ratios": {}}

_COUNTERS = {
    "enrolments": ("loyalty_enrolments", "Cards enrolled."),
    "points_issued": ("loyalty_points_issued", "Points earned and positive adjustments."),
    "points_redeemed": ("loyalty_points_redeemed", "Points redeemed."),
    "points_expired": ("loyalty_points_expired", "Points expired."),
    "stamp_completions": ("loyalty_stamp_completions", "Stamp cards completed (redeemed)."),
}
_GAUGES = {
    "cards": ("loyalty_cards", "Active (not deactivated, not trashed) cards."),
    "active_cards": ("loyalty_active_cards", f"Cards with activity in {ACTIVE_DAYS} days."),
    "wallet_cards": ("loyalty_wallet_cards", "Cards with a Google Wallet pass."),
    "active_programs": ("loyalty_active_programs", "Live programmes."),
}


class BusinessFiguresCollector:
    """The figures as a worker last read them; before the first read, every family without
    samples (the names and types are always there)."""

    def collect(self):
        figures = current_figures() or _NO_FIGURES
        merchants = figures["merchants"]
        for field, (name, documentation) in _COUNTERS.items():
            per_merchant = {slug: values[field] for slug, values in merchants.items()}
            yield _family(CounterMetricFamily, name, documentation, "merchant", per_merchant)
        for field, (name, documentation) in _GAUGES.items():
            per_merchant = {slug: values[field] for slug, values in merchants.items()}
            yield _family(GaugeMetricFamily, name, documentation, "merchant", per_merchant)
        yield _family(
            GaugeMetricFamily,
            "loyalty_at_risk_cards",
            "Cards at churn risk (analytics).",
            "merchant",
            figures["at_risk"],
        )
        yield _family(
            GaugeMetricFamily,
            "loyalty_task_last_success_timestamp_seconds",
            "Unix time of the task's last successful run (for expiry: every merchant).",
            "task",
            figures["last_success"],
        )
        yield _family(
            GaugeMetricFamily,
            "loyalty_wallet_sync_run_failure_ratio",
            "Share of the passes a wallet sync run tried whose push failed.",
            "run",
            figures["wallet_failure_ratios"],
        )


def _family(kind, name: str, documentation: str, label: str, values: dict):
    family = kind(name, documentation, labels=[label])
    for label_value, value in values.items():
        family.add_metric([label_value], value)
    return family
