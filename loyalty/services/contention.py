"""Outermost transactions that survive lock contention.

PostgreSQL bounds every lock wait (`lock_timeout`), and may abort a transaction to break a
deadlock or a serialization conflict; SQLite reports a busy database. Each of these leaves
nothing behind, so the whole transaction runs again a few times before the caller is asked
to retry later (503 `busy`), never left with a 500.
"""

import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

from loyalty.errors import Busy

T = TypeVar("T")

ATTEMPTS = 3
# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, lock_not_available.
_CONTENTION_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_contention(exc: OperationalError) -> bool:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in _CONTENTION_SQLSTATES
    return "database is locked" in str(exc)


def run_in_transaction(work: Callable[[], T]) -> T:
    """`work()` inside one durable transaction, retried when it lost a lock race."""
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic(durable=True):
                return work()
        except OperationalError as exc:
            if not is_contention(exc):
                raise
            if attempt + 1 < ATTEMPTS:
                # Jitter, so that the requests that collided do not collide again.
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise Busy()
