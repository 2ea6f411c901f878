"""Analytics reads go to the read replica when one is configured.

The figures read the same tables as the terminals (the ledger, cards), so the router cannot
tell them apart by model: the analytics selectors run inside `analytics_reads()`, and only
reads made inside it are routed to `settings.ANALYTICS_DATABASE` ("replica" when
DATABASE_REPLICA_URL is set, else "default"). Writes always go to the primary, and nothing
is migrated on the replica: it copies the primary.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import connections, transaction

REPLICA = "replica"

_reading_analytics: ContextVar[bool] = ContextVar("reading_analytics", default=False)


# Enough for the figures' sorts and hashes (a year of a large merchant's ledger) to stay in
# memory instead of spilling to disk, for one read-only transaction at a time per dashboard.
ANALYTICS_WORK_MEM = "64MB"


@contextmanager
def analytics_reads() -> Iterator[str]:
    """Route the reads made inside to the analytics database, in one transaction with more
    memory for sorting (on PostgreSQL, when no transaction is open yet); yields its alias."""
    token = _reading_analytics.set(True)
    alias = settings.ANALYTICS_DATABASE
    connection = connections[alias]
    # Inside another transaction (a test's), SET LOCAL would outlive this block.
    outermost = not connection.in_atomic_block
    try:
        with transaction.atomic(using=alias):
            if connection.vendor == "postgresql" and outermost:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL work_mem = '{ANALYTICS_WORK_MEM}'")
            yield alias
    finally:
        _reading_analytics.reset(token)


class AnalyticsRouter:
    def db_for_read(self, model, **hints) -> str | None:
        return settings.ANALYTICS_DATABASE if _reading_analytics.get() else None

    def db_for_write(self, model, **hints) -> str | None:
        return None

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # Rows read from the replica are the primary's rows.
        return obj1._state.db in ("default", REPLICA) and obj2._state.db in ("default", REPLICA)

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool | None:
        return db != REPLICA
