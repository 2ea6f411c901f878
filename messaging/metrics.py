"""The Prometheus metric of the emails messaging queues, sends and hears back about
(README, "Metrics"; the name and labels are a contract with the alert rules: never rename).

Labels hold the template's code and a fixed status word, never an address."""

from collections import Counter as Tally

from django.db import transaction
from prometheus_client import Counter

EMAILS = Counter(
    "loyalty_emails_total",
    "Email events by template code and status: queued, sent, failed, delivered, bounced, "
    "complained, opened, clicked.",
    ["template", "status"],
)


def count_queued(templates: list[str]) -> None:
    """The emails a transaction queued, counted once it commits."""
    tally = Tally(templates)

    def count() -> None:
        for template, number in tally.items():
            EMAILS.labels(template, "queued").inc(number)

    transaction.on_commit(count)


def count_email(template: str, status: str) -> None:
    EMAILS.labels(template, status).inc()
