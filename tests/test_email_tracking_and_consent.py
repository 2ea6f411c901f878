"""Delivery webhooks (anymail's Postmark tracking view behind basic auth), the one-click
unsubscribe link, and the email admin."""

import base64
import datetime
import json
import logging

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from loyalty import emails
from messaging.checks import check_webhook_secret
from messaging.models import EmailTemplate, OutgoingEmail, SuppressedAddress
from messaging.services import queue_emails
from messaging.services.consent import unsubscribe_url, withdraw_marketing_consent
from messaging.services.operations import send_test_email
from messaging.services.sending import send_queued_emails
from messaging.services.tracking import record_delivery_event
from tests.factories import CustomerFactory, OutgoingEmailFactory, UserFactory

Status = OutgoingEmail.Status
# The seeded templates, made again: a transactional test empties every table when it ends.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("email_templates")]
WEBHOOK = "/anymail/postmark/tracking/"
SECRET = "postmark:webhook-secret-for-tests"


@pytest.fixture
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


@pytest.fixture
def sent_email(merchant):
    return OutgoingEmailFactory(
        merchant=merchant, to="ana@example.com", status=Status.SENT, esp_message_id="pm-1"
    )


def post_event(client, event: dict, credentials: str | None = SECRET):
    headers = {}
    if credentials is not None:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return client.post(WEBHOOK, json.dumps(event), content_type="application/json", **headers)


def delivery(message_id="pm-1"):
    return {
        "RecordType": "Delivery",
        "MessageID": message_id,
        "Recipient": "ana@example.com",
        "DeliveredAt": "2026-06-10T08:00:05Z",
        "Details": "Test delivery",
    }


def bounce(kind="HardBounce", message_id="pm-1"):
    return {
        "RecordType": "Bounce",
        "Type": kind,
        "ID": 42,
        "MessageID": message_id,
        "Email": "Ana@Example.com",
        "BouncedAt": "2026-06-10T08:00:09Z",
        "Description": "The server was unable to deliver your message.",
    }


def open_event(message_id="pm-1"):
    return {
        "RecordType": "Open",
        "MessageID": message_id,
        "Recipient": "ana@example.com",
        "ReceivedAt": "2026-06-10T09:00:00Z",
    }


def test_signed_delivery_events_move_the_status_forward(client, webhook_secret, sent_email):
    assert post_event(client, delivery()).status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Status.DELIVERED
    assert sent_email.last_event_at.isoformat() == "2026-06-10T08:00:05+00:00"

    assert post_event(client, open_event()).status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Status.OPENED

    # Late and out of order: a delivery after the open changes nothing.
    assert post_event(client, delivery()).status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == Status.OPENED


@pytest.mark.parametrize("credentials", [None, "postmark:wrong"])
def test_an_unsigned_event_is_refused(client, webhook_secret, sent_email, credentials):
    response = post_event(client, delivery(), credentials=credentials)

    assert response.status_code == 400
    sent_email.refresh_from_db()
    assert sent_email.status == Status.SENT


def test_a_hard_bounce_stops_marketing_email_to_the_address(
    client, webhook_secret, sent_email, card
):
    assert post_event(client, bounce()).status_code == 200

    sent_email.refresh_from_db()
    assert sent_email.status == Status.BOUNCED
    assert sent_email.last_error == "The server was unable to deliver your message."
    suppressed = SuppressedAddress.objects.get()
    assert (suppressed.address, suppressed.reason) == ("ana@example.com", "bounced")

    card.customer.email = "ana@example.com"
    card.customer.marketing_consent = True
    card.customer.save()
    queue_emails(
        [emails.card_email(card, emails.BIRTHDAY), emails.card_email(card, emails.REWARD_READY)]
    )
    assert send_queued_emails().as_dict() == {
        "sent": 1,
        "retried": 0,
        "failed": 0,
        "cancelled": 1,
    }
    assert [message.subject for message in mail.outbox] == [
        "Your reward is ready at Alice's Bakery"
    ]


def test_a_complaint_suppresses_the_address_too(client, webhook_secret, sent_email):
    complaint = {**bounce(kind="SpamComplaint"), "RecordType": "SpamComplaint"}

    assert post_event(client, complaint).status_code == 200

    sent_email.refresh_from_db()
    assert sent_email.status == Status.COMPLAINED
    assert SuppressedAddress.objects.get().reason == "complained"


def test_an_event_for_an_unknown_message_changes_nothing(client, webhook_secret, sent_email):
    assert post_event(client, bounce(message_id="someone-else")).status_code == 200

    sent_email.refresh_from_db()
    assert sent_email.status == Status.SENT
    assert not SuppressedAddress.objects.exists()


# One-click unsubscribe


def test_the_unsubscribe_link_asks_first_and_a_post_clears_the_consent(client, card):
    customer = card.customer
    customer.marketing_consent = True
    customer.locale = "de"
    customer.save()
    link = unsubscribe_url(customer.pk)
    path = link.removeprefix("http://127.0.0.1:8000")

    page = client.get(path)
    assert page.status_code == 200
    assert b'<form method="post">' in page.content
    customer.refresh_from_db()
    assert customer.marketing_consent is True

    # What a mail client's one-click sends (RFC 8058): no session, no CSRF token.
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    customer.refresh_from_db()
    assert customer.marketing_consent is False


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_unsubscribe_link_is_404(client, card, method):
    card.customer.marketing_consent = True
    card.customer.save()
    token = unsubscribe_url(card.customer_id).rstrip("/").rsplit("/", 1)[1]
    customer_id, signature = token.split(":")
    other_customer = str(int(customer_id) + 1)

    for forged in (f"{other_customer}:{signature}", f"{customer_id}:{signature[:-1]}x", "7"):
        response = getattr(client, method)(reverse("messaging:unsubscribe", args=[forged]))
        assert response.status_code == 404

    card.customer.refresh_from_db()
    assert card.customer.marketing_consent is True


# Admin


@pytest.fixture
def operator(client):
    user = UserFactory(is_staff=True, is_superuser=True, email="ops@example.com")
    client.force_login(user)
    return user


def test_the_admin_previews_a_template_with_sample_data(client, operator):
    row = EmailTemplate.objects.get(code=emails.WELCOME_BONUS, locale="fr", merchant=None)

    page = client.get(reverse("admin:messaging_emailtemplate_change", args=[row.pk]))

    assert page.status_code == 200
    assert "50 points de bienvenue sur votre carte" in page.content.decode()
    assert "Bonjour Nina," in page.content.decode()


def test_the_admin_refuses_a_broken_template_with_the_reason(client, operator):
    row = EmailTemplate.objects.get(code=emails.ENROLLMENT, locale="en", merchant=None)
    url = reverse("admin:messaging_emailtemplate_change", args=[row.pk])

    response = client.post(
        url,
        {
            "code": row.code,
            "locale": row.locale,
            "is_active": "on",
            "subject": "Welcome {% if first_name %}{{ first_name }}",
            "text_body": row.text_body,
            "html_body": row.html_body,
        },
    )

    assert response.status_code == 200
    assert "Template error" in response.content.decode()
    row.refresh_from_db()
    assert row.subject == "Welcome to {{ program_name }} at {{ merchant_name }}"


def test_the_admin_sends_a_test_email_to_the_operator(client, operator):
    row = EmailTemplate.objects.get(code=emails.BIRTHDAY, locale="lb", merchant=None)

    client.post(
        reverse("admin:messaging_emailtemplate_changelist"),
        {"action": "send_test_email", "_selected_action": [row.pk]},
    )

    [message] = mail.outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == "Alles Guddes fir Äre Gebuertsdag, Nina!"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_email_log_is_read_only_and_retries_failed_rows(client, operator, merchant):
    failed = OutgoingEmailFactory(merchant=merchant, status=Status.FAILED, attempts=1)
    changelist = reverse("admin:messaging_outgoingemail_changelist")

    assert client.get(changelist + "?status__exact=failed").status_code == 200
    assert client.get(reverse("admin:messaging_outgoingemail_add")).status_code == 403
    client.post(changelist, {"action": "retry", "_selected_action": [failed.pk]})

    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (Status.QUEUED, 0)


def test_an_esp_without_a_webhook_secret_fails_the_system_check(settings):
    settings.DEBUG = False
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token"}

    assert [error.id for error in check_webhook_secret(None)] == ["messaging.E001"]

    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token", "WEBHOOK_SECRET": SECRET}
    assert check_webhook_secret(None) == []


def test_a_repeated_event_keeps_the_first_ones_time_and_a_delivery_records_no_error(
    client, webhook_secret, sent_email
):
    assert post_event(client, delivery()).status_code == 200
    later = {**delivery(), "DeliveredAt": "2026-06-10T08:30:00Z"}
    assert post_event(client, later).status_code == 200

    sent_email.refresh_from_db()
    assert sent_email.status == Status.DELIVERED
    assert sent_email.last_event_at.isoformat() == "2026-06-10T08:00:05+00:00"
    # The delivery's details are not an error.
    assert sent_email.last_error == ""
    assert not SuppressedAddress.objects.exists()


def test_the_service_says_whether_the_status_moved(sent_email):
    event = {"esp_message_id": "pm-1", "recipient": "ana@example.com"}

    assert record_delivery_event(event_type="opened", **event) is True
    assert record_delivery_event(event_type="opened", **event) is False
    assert record_delivery_event(event_type="delivered", **event) is False
    assert record_delivery_event(event_type="clicked", **event) is True

    sent_email.refresh_from_db()
    assert sent_email.status == Status.CLICKED


def test_an_event_without_a_time_is_dated_when_it_arrives(sent_email):
    with time_machine.travel(datetime.datetime(2026, 6, 10, 12, 0, tzinfo=datetime.UTC)):
        assert record_delivery_event(esp_message_id="pm-1", event_type="delivered")

    sent_email.refresh_from_db()
    assert sent_email.last_event_at == datetime.datetime(2026, 6, 10, 12, 0, tzinfo=datetime.UTC)


def test_events_the_log_does_not_record_or_without_a_message_id_change_nothing(merchant):
    sent = OutgoingEmailFactory(merchant=merchant, status=Status.SENT, esp_message_id="pm-1")
    # Not sent yet, so without an ESP id: an event naming no message must not find it.
    queued = OutgoingEmailFactory(merchant=merchant, status=Status.QUEUED)

    for event_type in ("queued", "sent", "deferred", "unknown"):
        assert record_delivery_event(esp_message_id="pm-1", event_type=event_type) is False
    assert record_delivery_event(esp_message_id="", event_type="bounced") is False

    for email, status in ((sent, Status.SENT), (queued, Status.QUEUED)):
        email.refresh_from_db()
        assert (email.status, email.last_event_at, email.last_error) == (status, None, "")
    assert not SuppressedAddress.objects.exists()


def test_a_bounce_suppresses_the_address_it_names_else_the_emails_own(merchant):
    OutgoingEmailFactory(
        merchant=merchant, to="ana@example.com", status=Status.SENT, esp_message_id="pm-1"
    )
    OutgoingEmailFactory(
        merchant=merchant, to="Bob@Example.com", status=Status.SENT, esp_message_id="pm-2"
    )

    record_delivery_event(
        esp_message_id="pm-1",
        event_type="bounced",
        recipient="Ana.Alias@Example.com",
        description="Mailbox full",
    )
    record_delivery_event(esp_message_id="pm-2", event_type="complained")

    assert sorted(SuppressedAddress.objects.values_list("address", "reason", "detail")) == [
        ("ana.alias@example.com", "bounced", "Mailbox full"),
        ("bob@example.com", "complained", ""),
    ]


def test_a_bounce_after_a_complaint_keeps_the_complaint_and_the_first_reason(merchant):
    email = OutgoingEmailFactory(
        merchant=merchant, to="ana@example.com", status=Status.SENT, esp_message_id="pm-1"
    )
    event = {"esp_message_id": "pm-1", "recipient": "ana@example.com"}
    record_delivery_event(event_type="complained", description="Marked as spam", **event)

    assert record_delivery_event(event_type="bounced", description="Later bounce", **event) is False

    email.refresh_from_db()
    assert (email.status, email.last_error) == (Status.COMPLAINED, "Marked as spam")
    suppressed = SuppressedAddress.objects.get()
    assert (suppressed.reason, suppressed.detail) == ("complained", "Marked as spam")


def test_a_test_email_is_the_template_with_its_sample_from_the_sample_merchant(settings):
    settings.DEFAULT_FROM_EMAIL = "Loyalty <loyalty@example.com>"
    row = EmailTemplate.objects.get(code=emails.ENROLLMENT, locale="en", merchant=None)

    send_test_email(template=row, to="ops@example.com")

    [message] = mail.outbox
    sample = emails.SAMPLE_CONTEXTS[emails.ENROLLMENT]
    assert message.from_email == "Alice's Bakery <loyalty@example.com>"
    assert message.to == ["ops@example.com"]
    assert message.subject == "Welcome to Bakery Rewards at Alice's Bakery"
    assert message.body.startswith("Hello Nina,\n")
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and sample["card_url"] in html
    # Not a marketing email: no unsubscribe link to offer.
    assert "List-Unsubscribe" not in message.extra_headers


def test_an_anonymised_customers_unsubscribe_link_is_404(client, card):
    link = unsubscribe_url(card.customer_id).removeprefix("http://127.0.0.1:8000")
    card.customer.anonymized_at = timezone.now()
    card.customer.save()

    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404


def test_withdrawing_consent_updates_the_callers_customer_too(card):
    customer = card.customer
    customer.marketing_consent = True
    customer.save()

    withdraw_marketing_consent(customer=customer)

    assert customer.marketing_consent is False
    customer.refresh_from_db()
    assert customer.marketing_consent is False


def test_an_event_for_an_unknown_message_is_logged_and_moves_nothing(sent_email, caplog):
    caplog.set_level(logging.INFO, logger="messaging.services.tracking")

    assert record_delivery_event(esp_message_id="pm-unknown", event_type="bounced") is False

    assert [record.getMessage() for record in caplog.records] == [
        "Delivery event bounced for an unknown message"
    ]
    assert not SuppressedAddress.objects.exists()


def test_an_unsubscribe_link_withdraws_its_own_customers_consent_only(client, merchant):
    first = CustomerFactory(merchant=merchant, email="a@example.com", marketing_consent=True)
    second = CustomerFactory(merchant=merchant, email="z@example.com", marketing_consent=True)

    response = client.post(unsubscribe_url(second.pk).removeprefix("http://127.0.0.1:8000"))

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.marketing_consent, second.marketing_consent) == (True, False)


def test_a_test_email_of_a_code_without_a_sample_still_goes_from_the_bare_address(settings):
    # A row of a code no app sends any more (the admin refuses new ones).
    settings.DEFAULT_FROM_EMAIL = "Loyalty <loyalty@example.com>"
    row = EmailTemplate.objects.create(
        code="retired_code",
        subject="Hello {{ first_name }}",
        text_body="Text {{ merchant_name }}",
        html_body="<p>html</p>",
    )

    send_test_email(template=row, to="ops@example.com")

    [message] = mail.outbox
    assert (message.from_email, message.subject, message.body) == (
        "loyalty@example.com",
        "Hello",
        "Text ",
    )
    assert "List-Unsubscribe" not in message.extra_headers
