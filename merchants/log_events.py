"""Log events: one log record per thing that happened, with its context as fields.

`log_event_on_commit(logger, "points_earned", merchant=..., card_id=..., points=...)` logs once
the current transaction commits (at once outside one), so a rolled-back change logs nothing;
`log_event` logs at once, for what happened whatever becomes of the transaction (a failed call
to Google). The fields travel as the record's `extra`: the JSON log lines carry each one under
its own name (README, "Logs"); the text lines show them as `name=value` after the event's name.
Fields hold ids, slugs, codes and counts, never personal data or secrets.
"""

import logging

from django.db import transaction


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields) -> None:
    details = " ".join(f"{name}={value}" for name, value in fields.items())
    logger.log(level, f"{event} {details}".rstrip(), extra={"event": event, **fields})


def log_event_on_commit(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields
) -> None:
    if logger.isEnabledFor(level):
        transaction.on_commit(lambda: log_event(logger, event, level=level, **fields), robust=True)
