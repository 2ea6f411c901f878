import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import OutgoingEmail
from messaging.services import EmailRequest, queue_email, queue_emails

# Everything that COPY's text format or JSON must escape.
NOTE = 'a "quoted"\tline\r\nwith a \\ backslash, \\N, \\t, é, 🎉 and \x01'


def test_queued_emails_are_recorded_with_their_plain_context(merchant, store, card):
    recorded = queue_emails(
        [
            EmailRequest(
                merchant_id=merchant.pk,
                customer_id=card.customer_id,
                store_id=store.pk,
                to="ana@example.com",
                template="loyalty_birthday",
                locale="fr",
                is_marketing=True,
                context={"first_name": "Ana", "points_expired": 12, "note": NOTE},
            ),
            EmailRequest(merchant_id=merchant.pk, customer_id=None, to="", template="welcome"),
            EmailRequest(
                merchant_id=merchant.pk, customer_id=None, to="c@example.com", template="welcome"
            ),
        ]
    )

    assert recorded == 2
    plain = OutgoingEmail.objects.get(to="c@example.com")
    assert (plain.customer_id, plain.store_id, plain.locale, plain.is_marketing) == (
        None,
        None,
        "",
        False,
    )
    email = OutgoingEmail.objects.get(to="ana@example.com")
    assert (
        email.merchant_id,
        email.customer_id,
        email.store_id,
        email.to,
        email.template,
        email.locale,
        email.is_marketing,
    ) == (
        merchant.pk,
        card.customer_id,
        store.pk,
        "ana@example.com",
        "loyalty_birthday",
        "fr",
        True,
    )
    assert email.context == {"first_name": "Ana", "points_expired": 12, "note": NOTE}
    assert email.status == OutgoingEmail.Status.QUEUED
    assert email.created_at is not None
    assert (email.attempts, email.next_attempt_at, email.lease_expires_at) == (0, None, None)
    assert (email.sent_at, email.last_error, email.esp_message_id, email.subject) == (
        None,
        "",
        "",
        "",
    )


def test_a_single_email_is_queued_the_same_way(merchant):
    queue_email(
        EmailRequest(
            merchant_id=merchant.pk, customer_id=None, to="b@example.com", template="welcome"
        )
    )

    assert OutgoingEmail.objects.get().context == {}


@pytest.mark.postgres
def test_on_postgresql_the_outbox_is_written_by_copy_not_by_insert(merchant):
    # A batch job queues hundreds of thousands: COPY is the path that keeps up.
    with CaptureQueriesContext(connection) as queries:
        recorded = queue_emails(
            [
                EmailRequest(
                    merchant_id=merchant.pk, customer_id=None, to=f"{n}@example.com", template="w"
                )
                for n in range(3)
            ]
        )

    assert recorded == OutgoingEmail.objects.count() == 3
    assert [query["sql"] for query in queries.captured_queries if "INSERT" in query["sql"]] == []
