"""Sending the outbox.

A sender claims the due rows in batches: in one short transaction it locks up to BATCH_SIZE
of them (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so parallel senders take different rows),
marks them `sending` under a lease and counts the attempt. Outside any transaction it then
renders each row's template in the customer's locale and sends it through Django's email API,
on one connection for the batch, recording each outcome as soon as it is known with a
compare-and-set on (row, `sending`, lease): a row whose lease was taken over is not touched.

- Sent: `sent`, with the ESP's message id (anymail), which the delivery webhooks look for.
- A transient failure (the ESP down or answering 5xx, a timeout): back to `queued`, due again
  RETRY_DELAY later; after MAX_ATTEMPTS attempts, `failed`.
- A permanent one (the recipient refused or invalid, no template): `failed` at once.
- Not to be sent (an anonymised customer; marketing without consent, or to an address that
  hard-bounced or complained): `cancelled`, with the reason.

A sender that dies leaves its rows `sending`; once their lease expires any sender takes them
again (a death counts as an attempt). No two senders send a row: a send starts only while
more than SEND_MARGIN of the lease remains, which outlasts the ESP call's timeout, so a row's
lease never runs out while its sender is still sending it. What is left is at-least-once
delivery: a sender killed between the ESP's answer and its record sends that row again.
"""

import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr

from anymail.exceptions import AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from customers.models import Customer
from merchants.models import Locale, Merchant
from messaging import metrics
from messaging.models import EmailTemplate, OutgoingEmail, SuppressedAddress
from messaging.rendering import CompiledTemplate, RenderedEmail
from messaging.services.consent import unsubscribe_url

logger = logging.getLogger(__name__)

Status = OutgoingEmail.Status

BATCH_SIZE = 100
LEASE = timedelta(minutes=5)
SEND_MARGIN = timedelta(minutes=1)
# The first attempt and three retries, a minute apart.
MAX_ATTEMPTS = 4
RETRY_DELAY = timedelta(seconds=60)
PERMANENT_FAILURES = (
    AnymailRecipientsRefused,
    AnymailInvalidAddress,
    smtplib.SMTPRecipientsRefused,
)


@dataclass
class SendCounts:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def send_queued_emails(*, max_batches: int | None = None) -> SendCounts:
    """Send the due emails, batch after batch, until none is due (or `max_batches`)."""
    counts = SendCounts()
    batches = 0
    while max_batches is None or batches < max_batches:
        rows, lease = _claim_batch(timezone.now())
        if not rows:
            break
        _send_batch(rows, lease, counts)
        batches += 1
    return counts


def _due(now: datetime):
    return OutgoingEmail.objects.filter(
        Q(status=Status.QUEUED, next_attempt_at__isnull=True)
        | Q(status=Status.QUEUED, next_attempt_at__lte=now)
        | Q(status=Status.SENDING, lease_expires_at__lte=now)
    )


def _claim_batch(now: datetime) -> tuple[list[OutgoingEmail], datetime]:
    lease = now + LEASE
    with transaction.atomic(durable=True):
        rows = list(
            _due(now).select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:BATCH_SIZE]
        )
        # A row whose senders kept dying with it is given up rather than tried forever.
        worn_out = [row for row in rows if row.attempts >= MAX_ATTEMPTS]
        if worn_out:
            OutgoingEmail.objects.filter(pk__in=[row.pk for row in worn_out]).update(
                status=Status.FAILED,
                lease_expires_at=None,
                last_error=f"Its sender stopped without an answer {MAX_ATTEMPTS} times.",
            )
        rows = [row for row in rows if row.attempts < MAX_ATTEMPTS]
        OutgoingEmail.objects.filter(pk__in=[row.pk for row in rows]).update(
            status=Status.SENDING, lease_expires_at=lease, attempts=F("attempts") + 1
        )
    for row in worn_out:
        metrics.count_email(row.template, "failed")
    for row in rows:
        row.status, row.lease_expires_at, row.attempts = Status.SENDING, lease, row.attempts + 1
    return rows, lease


class _BatchData:
    """What the rows of a batch need, read in one query per table."""

    def __init__(self, rows: list[OutgoingEmail]):
        self.customers = {
            customer["pk"]: customer
            for customer in Customer.objects.filter(
                pk__in={row.customer_id for row in rows if row.customer_id is not None}
            ).values("pk", "locale", "marketing_consent", "anonymized_at")
        }
        self.merchants = {
            merchant["pk"]: merchant
            for merchant in Merchant.all_objects.filter(
                pk__in={row.merchant_id for row in rows}
            ).values("pk", "name", "default_locale")
        }
        marketing_addresses = {row.to.lower() for row in rows if row.is_marketing}
        self.suppressed = set(
            SuppressedAddress.objects.filter(address__in=marketing_addresses).values_list(
                "address", flat=True
            )
        )
        self._templates: dict[tuple, CompiledTemplate | None] = {}

    def locale(self, row: OutgoingEmail) -> str:
        customer = self.customers.get(row.customer_id)
        merchant = self.merchants.get(row.merchant_id)
        return (
            row.locale
            or (customer and customer["locale"])
            or (merchant and merchant["default_locale"])
            or Locale.EN
        )

    def template(self, row: OutgoingEmail, locale: str) -> CompiledTemplate | None:
        key = (row.template, locale, row.merchant_id, row.store_id)
        if key not in self._templates:
            found = resolve_template(
                code=row.template, locale=locale, merchant_id=row.merchant_id, store_id=row.store_id
            )
            self._templates[key] = CompiledTemplate(found) if found else None
        return self._templates[key]

    def reason_not_to_send(self, row: OutgoingEmail) -> str:
        customer = self.customers.get(row.customer_id)
        if customer is not None and customer["anonymized_at"] is not None:
            return "The customer was anonymised."
        if not row.is_marketing:
            return ""
        if customer is None or not customer["marketing_consent"]:
            return "Marketing email without the customer's consent."
        if row.to.lower() in self.suppressed:
            return "The address hard-bounced or complained."
        return ""


def resolve_template(
    *, code: str, locale: str, merchant_id: int | None, store_id: int | None
) -> EmailTemplate | None:
    """The active template for an email: the store's override, else the merchant's, else the
    platform default, each in `locale`; else the platform default in English."""
    scopes = Q(merchant__isnull=True, store__isnull=True)
    if merchant_id is not None:
        scopes |= Q(merchant_id=merchant_id, store__isnull=True)
    if store_id is not None:
        scopes |= Q(store_id=store_id)
    candidates = EmailTemplate.objects.filter(
        scopes, code=code, is_active=True, locale__in={locale, Locale.EN}
    )

    def rank(template: EmailTemplate) -> int:
        if template.locale != locale:
            # Only the English platform default stands in for another locale.
            return 3 if template.merchant_id is None else 99
        if template.store_id is not None:
            return 0
        return 1 if template.merchant_id is not None else 2

    ranked = sorted(candidates, key=rank)
    return ranked[0] if ranked and rank(ranked[0]) < 99 else None


def _record(row: OutgoingEmail, lease: datetime, **fields) -> bool:
    """Write the row's outcome, unless another sender has taken it over since."""
    return bool(
        OutgoingEmail.objects.filter(
            pk=row.pk, status=Status.SENDING, lease_expires_at=lease
        ).update(lease_expires_at=None, **fields)
    )


@contextmanager
def _commits_without_waiting_for_the_disk() -> Iterator[None]:
    """Each outcome is recorded in a commit of its own, so a worker that dies loses at most
    the record of the one email it was sending. On PostgreSQL those commits do not wait for
    the disk, which saves a flush per email (about a tenth of a sender's time): a crash of
    the database server itself can lose the last few records, and those emails go again."""
    if db_connection.vendor != "postgresql":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _send_batch(rows: list[OutgoingEmail], lease: datetime, counts: SendCounts) -> None:
    data = _BatchData(rows)
    with get_connection() as connection, _commits_without_waiting_for_the_disk():
        for index, row in enumerate(rows):
            if timezone.now() + SEND_MARGIN >= lease:
                # Too late to start a send under this lease: give the rest back.
                OutgoingEmail.objects.filter(
                    pk__in=[r.pk for r in rows[index:]],
                    status=Status.SENDING,
                    lease_expires_at=lease,
                ).update(status=Status.QUEUED, lease_expires_at=None, attempts=F("attempts") - 1)
                return
            _send_one(row, lease, data, connection, counts)


def _send_one(row, lease, data: _BatchData, connection, counts: SendCounts) -> None:
    reason = data.reason_not_to_send(row)
    if reason:
        _record(row, lease, status=Status.CANCELLED, last_error=reason)
        counts.cancelled += 1
        return
    locale = data.locale(row)
    template = data.template(row, locale)
    if template is None:
        _fail(row, lease, counts, f"No active template {row.template!r} for locale {locale}.")
        return
    context = dict(row.context)
    if row.is_marketing:
        context["unsubscribe_url"] = unsubscribe_url(row.customer_id)
    try:
        rendered = template.render(context)
    except Exception as exc:
        _fail(row, lease, counts, f"The template did not render: {type(exc).__name__}: {exc}")
        return
    merchant = data.merchants.get(row.merchant_id)
    message = build_message(
        rendered=rendered,
        to=row.to,
        sender_name=merchant["name"] if merchant else "",
        unsubscribe=context.get("unsubscribe_url", ""),
    )
    try:
        connection.send_messages([message])
    except PERMANENT_FAILURES as exc:
        _fail(row, lease, counts, _refusal(exc), locale=locale, subject=rendered.subject)
        return
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if row.attempts >= MAX_ATTEMPTS:
            _fail(row, lease, counts, error, locale=locale, subject=rendered.subject)
        else:
            _record(
                row,
                lease,
                status=Status.QUEUED,
                next_attempt_at=timezone.now() + RETRY_DELAY,
                last_error=error,
                locale=locale,
                subject=rendered.subject,
            )
            counts.retried += 1
        logger.warning("Email %s not sent (attempt %s): %s", row.pk, row.attempts, error)
        return
    status = getattr(message, "anymail_status", None)
    recorded = _record(
        row,
        lease,
        status=Status.SENT,
        sent_at=timezone.now(),
        esp_message_id=(status.message_id or "") if status is not None else "",
        locale=locale,
        subject=rendered.subject,
        last_error="",
    )
    if recorded:
        metrics.count_email(row.template, "sent")
    counts.sent += 1


def _refusal(exc: Exception) -> str:
    """The refusal with the ESP's own words, which say why (e.g. Postmark's "inactive")."""
    response = getattr(exc, "response", None)
    detail = f" {response.text.strip()}" if response is not None else ""
    return f"Refused: {exc}.{detail}"[:2000]


def _fail(row, lease, counts: SendCounts, error: str, **fields) -> None:
    if _record(row, lease, status=Status.FAILED, last_error=error, **fields):
        metrics.count_email(row.template, "failed")
    counts.failed += 1
    logger.warning("Email %s failed: %s", row.pk, error)


def build_message(
    *, rendered: RenderedEmail, to: str, sender_name: str, unsubscribe: str = ""
) -> EmailMultiAlternatives:
    headers = {}
    if unsubscribe:
        # RFC 8058 one-click unsubscribe: the mail client POSTs to the link.
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=formataddr((sender_name, sender)) if sender_name else sender,
        to=[to],
        headers=headers,
    )
    message.attach_alternative(rendered.html, "text/html")
    return message
