"""Idempotency keys of terminal POSTs, stored in the database so that they hold across
processes and restarts.

A key is claimed in the transaction that does the request's work and records its response,
so a committed record always has its response, and a request that fails leaves nothing. A
concurrent request with the same key waits on the key's unique index until the first ends
(bounded by the lock timeout, then 409): it replays the first's response once that commits,
and claims the key itself if the first rolled back.
"""

import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import OperationalError
from django.db.models import Q
from django.utils import timezone

from loyalty.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from loyalty.models import IdempotencyRecord, TerminalKey
from loyalty.services.contention import is_contention

RETENTION = datetime.timedelta(hours=24)
# Responses meant to be retried are not kept: a retry with the same key runs again.
RETRYABLE_STATUSES = frozenset({409, 429, 503})


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str


def request_digest(*, method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path and the body's bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def claim_idempotency_key(
    *, terminal_key: TerminalKey, key: str, request_digest: str
) -> IdempotencyRecord | StoredResponse:
    """In the caller's transaction: a claim on the key for this request, or the response
    stored for the same request.

    Raises IdempotencyKeyReused if the key came with another request, and
    IdempotencyKeyInProgress if the request holding the key outlasts the lock timeout.
    """
    now = timezone.now()
    try:
        # ON CONFLICT DO NOTHING: a key taken by a committed request changes nothing, and
        # one taken by a request still running makes this wait for it to end.
        IdempotencyRecord.objects.bulk_create(
            [
                IdempotencyRecord(
                    terminal_key=terminal_key,
                    key=key,
                    request_digest=request_digest,
                    claimed_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        record = IdempotencyRecord.objects.select_for_update().get(
            terminal_key=terminal_key, key=key
        )
    except OperationalError as exc:
        if is_contention(exc):
            raise IdempotencyKeyInProgress() from exc
        raise
    if record.response_status is None:
        # Committed records always have their response: this one is ours.
        return record
    if record.claimed_at <= now - RETENTION:
        # Past its retention and not purged yet: the key is free again (the row is locked).
        record.request_digest = request_digest
        record.response_status = None
        record.response_body = ""
        record.claimed_at = now
        record.save(
            update_fields=["request_digest", "response_status", "response_body", "claimed_at"]
        )
        return record
    if record.request_digest != request_digest:
        raise IdempotencyKeyReused()
    return StoredResponse(status=record.response_status, body=record.response_body)


def record_response(*, claim: IdempotencyRecord, status: int, body: str) -> None:
    """Keep the response for replays, in the caller's transaction; or give the key up when
    the response is one that the client should retry."""
    if status in RETRYABLE_STATUSES or status >= 500:
        claim.delete()
        return
    claim.response_status = status
    claim.response_body = body
    claim.save(update_fields=["response_status", "response_body"])


def purge_idempotency_records(*, now: datetime.datetime | None = None) -> int:
    """Delete records past their retention; they would be ignored anyway."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = IdempotencyRecord.objects.filter(claimed_at__lte=cutoff).delete()
    return deleted


def scrub_customer_responses(*, card_numbers: list[str]) -> int:
    """Anonymisation: blank the customer's name in stored responses about their cards (the
    card answers carry `customer_first_name`). Returns how many records changed."""
    if not card_numbers:
        return 0
    mentions = Q()
    for number in card_numbers:
        mentions |= Q(response_body__contains=f'"{number}"')
    scrubbed = 0
    for record in IdempotencyRecord.objects.select_for_update().filter(mentions):
        body = json.loads(record.response_body)
        if _blank_names(body):
            record.response_body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            record.save(update_fields=["response_body"])
            scrubbed += 1
    return scrubbed


def _blank_names(data) -> bool:
    """Blank every `customer_first_name` in a decoded JSON answer; True if any was set."""
    changed = False
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "customer_first_name" and value:
                data[key] = ""
                changed = True
            else:
                changed |= _blank_names(value)
    elif isinstance(data, list):
        for item in data:
            changed |= _blank_names(item)
    return changed
