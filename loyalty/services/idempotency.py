"""Idempotency keys of terminal POSTs, stored in the database so that they hold across
processes and restarts.

A key is claimed in its own committed transaction, so that a concurrent retry sees it in
flight (409) instead of waiting; the response is recorded in the caller's transaction, the
one that writes the ledger row, so a committed ledger row always has its response to replay.

A claim left without a response for ABANDONED_AFTER may be taken over by a retry. Both sides
compare and set, so that a request that was only slow and the retry that took its claim over
never both land: the response is recorded only while the claim is still the request's own
(otherwise its transaction is rolled back), and a claim is taken over only while it still has
no response.
"""

import datetime
import hashlib
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from loyalty.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from loyalty.models import IdempotencyRecord, TerminalKey

RETENTION = datetime.timedelta(hours=24)
# A claim still without a response after this long belongs to a process that died
# mid-request (a request gives up on locks after a few seconds): it may be claimed again.
ABANDONED_AFTER = datetime.timedelta(minutes=1)
# Responses meant to be retried are not kept: a retry with the same key runs again.
RETRYABLE_STATUSES = frozenset({409, 429, 503})
_TABLE = IdempotencyRecord._meta.db_table


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
    """A claim on the key for this request, or the response stored for the same request.

    Raises IdempotencyKeyReused if the key came with another request, and
    IdempotencyKeyInProgress while the first request with the key is still running.
    """
    # Three rounds cover a record released or reclaimed between our insert and our read.
    for _ in range(3):
        now = timezone.now()
        claimed = _insert_claim(terminal_key.pk, key, request_digest, now)
        if claimed is not None:
            return claimed
        record = IdempotencyRecord.objects.filter(terminal_key=terminal_key, key=key).first()
        if record is None:
            continue
        expired = record.claimed_at <= now - RETENTION
        abandoned = record.response_status is None and record.claimed_at <= now - ABANDONED_AFTER
        if expired or abandoned:
            # Compare-and-set on what was read: of two requests reclaiming it, one wins, and
            # an abandoned claim whose request has recorded its response meanwhile is kept.
            reclaimed = IdempotencyRecord.objects.filter(
                pk=record.pk,
                claimed_at=record.claimed_at,
                response_status=record.response_status,
            ).update(
                request_digest=request_digest,
                response_status=None,
                response_body="",
                claimed_at=now,
            )
            if reclaimed:
                record.request_digest = request_digest
                record.response_status = None
                record.response_body = ""
                record.claimed_at = now
                return record
            continue
        if record.request_digest != request_digest:
            raise IdempotencyKeyReused()
        if record.response_status is None:
            raise IdempotencyKeyInProgress()
        return StoredResponse(status=record.response_status, body=record.response_body)
    raise IdempotencyKeyInProgress()


def _insert_claim(terminal_key_id, key, digest, now) -> IdempotencyRecord | None:
    """The new claim, or None if the key is taken. One SQL statement: this runs on every
    terminal POST, where the ORM's own cost would be a good part of the time spent."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {_TABLE} (terminal_key_id, "key", request_digest, response_body, '
            "claimed_at) VALUES (%s, %s, %s, '', %s) "
            'ON CONFLICT (terminal_key_id, "key") DO NOTHING RETURNING id',
            [terminal_key_id, key, digest, connection.ops.adapt_datetimefield_value(now)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyRecord(
        pk=row[0],
        terminal_key_id=terminal_key_id,
        key=key,
        request_digest=digest,
        response_body="",
        claimed_at=now,
    )


def record_response(*, claim: IdempotencyRecord, status: int, body: str) -> bool:
    """Keep the response for replays (inside the caller's transaction), or give the key up
    when the response is one that the client should retry.

    False if a retry has taken the claim over (this request ran past ABANDONED_AFTER): the
    caller must then roll its work back, since the retry does it again."""
    if status in RETRYABLE_STATUSES or status >= 500:
        release_idempotency_key(claim=claim)
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET response_status = %s, response_body = %s "
            "WHERE id = %s AND claimed_at = %s AND response_status IS NULL",
            [
                status,
                body,
                claim.pk,
                connection.ops.adapt_datetimefield_value(claim.claimed_at),
            ],
        )
        return cursor.rowcount == 1


def release_idempotency_key(*, claim: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(
        pk=claim.pk, claimed_at=claim.claimed_at, response_status__isnull=True
    ).delete()


def purge_idempotency_records(*, now: datetime.datetime | None = None) -> int:
    """Delete records past their retention; they would be ignored anyway."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted, _ = IdempotencyRecord.objects.filter(claimed_at__lte=cutoff).delete()
    return deleted
