"""The Prometheus metrics that loyalty moves (README, "Metrics"; names and labels are a
contract with the alert rules and the dashboard: never rename one). `tasks` counts the
periodic jobs' runs; `figures` reads the business figures from the database at scrape time.

Counters live in the process that moves them; under gunicorn and Celery every process writes
its own file in PROMETHEUS_MULTIPROC_DIR and the scrape adds them up (config.metrics).
Counters of database writes move after the commit, so a rolled-back write counts nothing.
Labels hold slugs, store codes, task names and fixed words only, never personal data.
"""

from django.db import transaction
from prometheus_client import Counter

from merchants.models import Merchant, Store

RATE_LIMITED = Counter(
    "loyalty_rate_limited_total", "429 answers to terminals, per store.", ["merchant", "store"]
)
PIN_LOCKOUTS = Counter(
    "loyalty_pin_lockouts_total",
    "Terminal keys reaching their wrong-PIN limit, per store.",
    ["merchant", "store"],
)
TRANSACTIONS = Counter(
    "loyalty_transactions_total",
    "Ledger rows written through the terminal API.",
    ["merchant", "store", "type"],
)
WALLET_SYNCS = Counter("loyalty_wallet_syncs_total", "Passes pushed to Google Wallet.", ["outcome"])
ENROLMENT_FUNNEL = Counter(
    "loyalty_enrolment_funnel_total",
    "Enrolment page funnel: page_view, form_start, submission, success.",
    ["merchant", "step"],
)

SUCCEEDED, FAILED = "succeeded", "failed"
for _outcome in (SUCCEEDED, FAILED):
    WALLET_SYNCS.labels(_outcome)


def count_rate_limited(store: Store) -> None:
    RATE_LIMITED.labels(store.merchant.slug, store.code).inc()


def count_pin_lockout(store: Store) -> None:
    # The lockout is written in the request's transaction; it counts once that commits.
    transaction.on_commit(PIN_LOCKOUTS.labels(store.merchant.slug, store.code).inc)


def count_ledger_row(*, store: Store, type: str) -> None:
    transaction.on_commit(TRANSACTIONS.labels(store.merchant.slug, store.code, type).inc)


def count_enrolment_step(merchant: Merchant, step: str) -> None:
    ENROLMENT_FUNNEL.labels(merchant.slug, step).inc()


def count_enrolment_success(merchant: Merchant) -> None:
    transaction.on_commit(ENROLMENT_FUNNEL.labels(merchant.slug, "success").inc)


def count_wallet_push(*, succeeded: bool) -> None:
    WALLET_SYNCS.labels(SUCCEEDED if succeeded else FAILED).inc()
