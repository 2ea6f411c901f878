"""The sender against a fake Postmark over real HTTP on 127.0.0.1, through anymail's
Postmark backend: retries, refusals, leases, parallel senders, and the rows it records."""

import datetime
import threading

import kombu.exceptions
import pytest
import time_machine
from anymail.backends.postmark import EmailBackend as PostmarkBackend
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

import messaging.tasks
from loyalty import emails
from loyalty.services import ledger
from messaging.models import EmailTemplate, OutgoingEmail, SuppressedAddress
from messaging.services import EmailRequest, queue_emails
from messaging.services.operations import cancel_queued_emails, retry_failed_emails
from messaging.services.sending import LEASE, MAX_ATTEMPTS, RETRY_DELAY, send_queued_emails
from tests import fake_postmark, fake_smtp
from tests.factories import CardFactory, CustomerFactory

# The seeded templates, made again: a transactional test empties every table when it ends.
pytestmark = pytest.mark.usefixtures("email_templates")

Status = OutgoingEmail.Status
START = datetime.datetime(2026, 6, 10, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def postmark(settings):
    esp = fake_postmark.FakePostmark().start()
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": esp.token, "POSTMARK_API_URL": esp.url}
    settings.DEFAULT_FROM_EMAIL = "Loyalty <loyalty@example.com>"
    yield esp
    esp.stop()


def queue_enrollment_email(card, *, marketing=False) -> OutgoingEmail:
    code = emails.BIRTHDAY if marketing else emails.ENROLLMENT
    queue_emails([emails.card_email(card, code)])
    return OutgoingEmail.objects.latest("pk")


def answers(*responses):
    """A fake ESP that gives these answers in turn, then accepts."""
    pending = list(responses)

    def answer(payload):
        return (pending.pop(0) if pending else fake_postmark.accept)(payload)

    return answer


def test_a_transient_failure_is_retried_a_minute_later_until_it_is_sent_once(postmark, card):
    card.customer.locale = "de"
    card.customer.save()
    email = queue_enrollment_email(card)
    postmark.answer = answers(fake_postmark.fail, fake_postmark.fail)

    with time_machine.travel(START, tick=False) as clock:
        assert send_queued_emails().as_dict() == {
            "sent": 0,
            "retried": 1,
            "failed": 0,
            "cancelled": 0,
        }
        email.refresh_from_db()
        assert (email.status, email.attempts) == (Status.QUEUED, 1)
        assert email.next_attempt_at == START + RETRY_DELAY
        assert "500" in email.last_error

        clock.shift(RETRY_DELAY - datetime.timedelta(seconds=1))
        assert send_queued_emails().sent == 0
        assert len(postmark.requests) == 1

        clock.shift(datetime.timedelta(seconds=1))
        assert send_queued_emails().retried == 1
        clock.shift(RETRY_DELAY)
        assert send_queued_emails().sent == 1
        clock.shift(RETRY_DELAY)
        assert send_queued_emails().sent == 0

    email.refresh_from_db()
    assert len(postmark.requests) == 3
    [(payload, message_id)] = postmark.accepted
    assert (email.status, email.attempts, email.esp_message_id) == (Status.SENT, 3, message_id)
    assert (email.sent_at, email.last_error, email.locale) == (START + 2 * RETRY_DELAY, "", "de")
    assert email.lease_expires_at is None
    assert email.subject == payload["Subject"] == "Willkommen bei Rewards von Alice's Bakery"
    assert payload["To"] == card.customer.email
    assert payload["From"] == "Alice's Bakery <loyalty@example.com>"
    assert payload["TextBody"].startswith(f"Hallo {card.customer.first_name},\n")
    assert email.context["card_url"] in payload["HtmlBody"]
    assert "List-Unsubscribe" not in str(payload.get("Headers"))


def test_it_gives_up_after_three_retries(postmark, card):
    email = queue_enrollment_email(card)
    postmark.answer = fake_postmark.fail

    with time_machine.travel(START, tick=False) as clock:
        for _ in range(MAX_ATTEMPTS + 1):
            send_queued_emails()
            clock.shift(RETRY_DELAY)

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.FAILED, MAX_ATTEMPTS)
    assert len(postmark.requests) == MAX_ATTEMPTS == 4


def test_a_refused_recipient_fails_at_once_and_is_not_retried(postmark, card):
    email = queue_enrollment_email(card)
    postmark.answer = fake_postmark.refuse

    assert send_queued_emails().failed == 1
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=1)):
        assert send_queued_emails().as_dict() == {
            "sent": 0,
            "retried": 0,
            "failed": 0,
            "cancelled": 0,
        }

    email.refresh_from_db()
    assert (email.status, email.attempts, email.esp_message_id) == (Status.FAILED, 1, "")
    assert email.last_error.startswith("Refused:")
    assert "inactive" in email.last_error
    assert len(postmark.requests) == 1


def test_a_crashed_senders_lease_expires_and_the_row_goes_out_once(postmark, card, monkeypatch):
    email = queue_enrollment_email(card)
    send_messages = PostmarkBackend.send_messages

    def killed(self, messages):
        raise SystemExit("worker killed")

    monkeypatch.setattr(PostmarkBackend, "send_messages", killed)
    with time_machine.travel(START, tick=False) as clock:
        with pytest.raises(SystemExit):
            send_queued_emails()
        email.refresh_from_db()
        assert (email.status, email.attempts) == (Status.SENDING, 1)
        assert email.lease_expires_at == START + LEASE
        monkeypatch.setattr(PostmarkBackend, "send_messages", send_messages)

        clock.shift(LEASE - datetime.timedelta(seconds=1))
        assert send_queued_emails().sent == 0
        clock.shift(datetime.timedelta(seconds=1))
        assert send_queued_emails().sent == 1

    email.refresh_from_db()
    assert (email.status, email.attempts) == (Status.SENT, 2)
    assert len(postmark.accepted) == 1


def test_a_sender_stops_before_its_lease_runs_short_and_gives_the_rest_back(postmark, program):
    cards = CardFactory.create_batch(3, program=program)
    for card in cards:
        queue_enrollment_email(card)
    start = timezone.now()

    def slow(payload):
        # Each send takes two minutes: the lease leaves time for two sends, not three.
        clock.shift(datetime.timedelta(minutes=2))
        return fake_postmark.accept(payload)

    postmark.answer = slow
    with time_machine.travel(start, tick=False) as clock:
        assert send_queued_emails(max_batches=1).sent == 2

    assert len(postmark.accepted) == 2
    rest = OutgoingEmail.objects.get(status=Status.QUEUED)
    assert (rest.attempts, rest.lease_expires_at) == (0, None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_email_exactly_once(postmark, program, settings):
    # The two senders below, not the one kicked after the commit, must find the emails.
    settings.EMAIL_SEND_AFTER_COMMIT = False
    cards = CardFactory.create_batch(300, program=program)
    with transaction.atomic():
        queue_emails([emails.card_email(card, emails.ENROLLMENT) for card in cards])
    counts, errors = [], []

    def sender():
        try:
            counts.append(send_queued_emails().as_dict())
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    senders = [threading.Thread(target=sender) for _ in range(2)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join()

    assert errors == []
    assert sum(count["sent"] for count in counts) == 300
    per_recipient = postmark.accepted_per_recipient()
    assert len(per_recipient) == 300
    assert set(per_recipient.values()) == {1}
    assert OutgoingEmail.objects.filter(status=Status.SENT, attempts=1).count() == 300


def test_a_marketing_email_carries_one_click_unsubscribe(postmark, card):
    card.customer.marketing_consent = True
    card.customer.save()
    queue_enrollment_email(card, marketing=True)

    assert send_queued_emails().sent == 1

    [(payload, _)] = postmark.accepted
    headers = {header["Name"]: header["Value"] for header in payload["Headers"]}
    unsubscribe = headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://127.0.0.1:8000/email/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in payload["TextBody"]
    assert f'href="{unsubscribe}"' in payload["HtmlBody"]


@pytest.mark.parametrize(
    ("consent", "anonymised", "suppressed", "reason"),
    [
        (False, False, False, "Marketing email without the customer's consent."),
        (True, True, False, "The customer was anonymised."),
        (True, False, True, "The address hard-bounced or complained."),
    ],
)
def test_marketing_email_is_cancelled_without_consent_for_anonymised_or_suppressed(
    postmark, card, consent, anonymised, suppressed, reason
):
    card.customer.marketing_consent = consent
    card.customer.anonymized_at = timezone.now() if anonymised else None
    card.customer.save()
    if suppressed:
        SuppressedAddress.objects.create(address=card.customer.email, reason="bounced")
    email = queue_enrollment_email(card, marketing=True)

    assert send_queued_emails().cancelled == 1

    email.refresh_from_db()
    assert (email.status, email.last_error) == (Status.CANCELLED, reason)
    assert postmark.requests == []


def test_an_anonymised_customer_gets_no_email_and_their_queued_ones_are_cancelled(card):
    other = CardFactory(program=card.program)
    email = queue_enrollment_email(card)
    kept = queue_enrollment_email(other)
    card.customer.anonymized_at = timezone.now()
    card.customer.save()

    assert cancel_queued_emails(customer_id=card.customer_id, reason="Anonymised.") == 1

    email.refresh_from_db()
    assert (email.status, email.last_error) == (Status.CANCELLED, "Anonymised.")
    assert send_queued_emails().sent == 1
    kept.refresh_from_db()
    assert kept.status == Status.SENT
    assert [message.to for message in mail.outbox] == [[other.customer.email]]


def test_an_email_without_a_template_fails_with_the_reason(merchant):
    customer = CustomerFactory(merchant=merchant, locale="lb")
    queue_emails(
        [
            EmailRequest(
                merchant_id=merchant.pk,
                customer_id=customer.pk,
                to=customer.email,
                template="no_such_code",
            )
        ]
    )

    assert send_queued_emails().failed == 1

    email = OutgoingEmail.objects.get()
    assert (email.status, email.last_error) == (
        Status.FAILED,
        "No active template 'no_such_code' for locale lb.",
    )


def test_retrying_failed_emails_queues_them_again_with_fresh_attempts(card):
    failed = queue_enrollment_email(card)
    sent = queue_enrollment_email(card)
    not_chosen = queue_enrollment_email(card)
    OutgoingEmail.objects.filter(pk=not_chosen.pk).update(status=Status.FAILED)
    OutgoingEmail.objects.filter(pk=failed.pk).update(
        status=Status.FAILED, attempts=4, last_error="Refused"
    )
    OutgoingEmail.objects.filter(pk=sent.pk).update(status=Status.SENT)

    assert retry_failed_emails(email_ids=[failed.pk, sent.pk]) == 1

    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (Status.QUEUED, 0, "")
    assert send_queued_emails().sent == 1
    not_chosen.refresh_from_db()
    assert not_chosen.status == Status.FAILED


def test_an_enrolment_sends_its_emails_once_it_commits(
    program, store, django_capture_on_commit_callbacks
):
    program.welcome_bonus_points = 20
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        ledger.enroll_customer(
            program=program, store=store, email="marie@example.com", first_name="Marie", locale="fr"
        )

    assert [message.subject for message in mail.outbox] == [
        "Bienvenue dans Rewards chez Alice's Bakery",
        "20 points de bienvenue sur votre carte",
    ]
    assert set(OutgoingEmail.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_rolled_back_enrolment_sends_nothing(program, store, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ledger.enroll_customer(
            program=program, store=store, email="marie@example.com", first_name="Marie"
        )
        raise RuntimeError("the business transaction fails after queueing")

    assert callbacks == []
    assert not OutgoingEmail.objects.exists()
    assert mail.outbox == []


def test_a_retried_email_is_due_at_once_and_sent_when_the_retry_commits(
    card, django_capture_on_commit_callbacks
):
    email = queue_enrollment_email(card)
    OutgoingEmail.objects.filter(pk=email.pk).update(
        status=Status.FAILED,
        attempts=MAX_ATTEMPTS,
        next_attempt_at=timezone.now() + datetime.timedelta(hours=1),
        last_error="TimeoutError",
    )

    with django_capture_on_commit_callbacks(execute=True) as kicks:
        assert retry_failed_emails(email_ids=[email.pk]) == 1

    assert len(kicks) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (Status.SENT, 1, "")
    assert [message.to for message in mail.outbox] == [[card.customer.email]]


def test_retrying_no_failed_email_kicks_no_sender(card, django_capture_on_commit_callbacks):
    email = queue_enrollment_email(card)

    with django_capture_on_commit_callbacks(execute=True) as kicks:
        assert retry_failed_emails(email_ids=[email.pk]) == 0

    assert kicks == []
    assert mail.outbox == []


def test_a_broker_that_is_down_fails_neither_queueing_nor_a_retry(
    card, monkeypatch, django_capture_on_commit_callbacks
):
    kicks = []

    def broker_down():
        kicks.append("kick")
        raise kombu.exceptions.OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(messaging.tasks.send_queued_emails, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        email = queue_enrollment_email(card)
    kicks_when_queued = len(kicks)
    OutgoingEmail.objects.filter(pk=email.pk).update(status=Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        assert retry_failed_emails(email_ids=[email.pk]) == 1

    # Both kicks were made and failed; the every-minute schedule sends the row.
    assert (kicks_when_queued, len(kicks)) == (1, 2)
    email.refresh_from_db()
    assert email.status == Status.QUEUED
    assert mail.outbox == []


def test_cancelling_a_customers_emails_leaves_those_already_sent_alone(card):
    sent = queue_enrollment_email(card)
    assert send_queued_emails().sent == 1
    queued = queue_enrollment_email(card)

    assert cancel_queued_emails(customer_id=card.customer_id, reason="Anonymised.") == 1

    sent.refresh_from_db()
    queued.refresh_from_db()
    assert (sent.status, sent.last_error) == (Status.SENT, "")
    assert (queued.status, queued.last_error) == (Status.CANCELLED, "Anonymised.")


def enrollment_request(merchant, to, **fields) -> EmailRequest:
    return EmailRequest(
        merchant_id=merchant.pk,
        customer_id=fields.pop("customer_id", None),
        to=to,
        template=fields.pop("template", emails.ENROLLMENT),
        context={"first_name": "Ana", "program_name": "Rewards", "merchant_name": merchant.name},
        **fields,
    )


def by_recipient(payload):
    """Each address says how the fake ESP answers it."""
    for word, answer in (("fail", fake_postmark.fail), ("refuse", fake_postmark.refuse)):
        if payload["To"].startswith(word):
            return answer(payload)
    return fake_postmark.accept(payload)


def test_one_batch_counts_each_outcome_and_records_its_locale_and_subject(
    postmark, merchant, caplog
):
    postmark.answer = by_recipient
    addresses = [f"{word}{n}@example.com" for word in ("ok", "fail", "refuse") for n in (1, 2)]
    queue_emails([enrollment_request(merchant, to) for to in addresses])
    # Marketing without a customer: no one consented.
    queue_emails(
        [enrollment_request(merchant, f"nobody{n}@example.com", is_marketing=True) for n in (1, 2)]
    )

    with time_machine.travel(START, tick=False):
        counts = send_queued_emails(max_batches=1)

    assert counts.as_dict() == {"sent": 2, "retried": 2, "failed": 2, "cancelled": 2}
    rows = {row.to: row for row in OutgoingEmail.objects.all()}
    subject = "Welcome to Rewards at Alice's Bakery"
    for n in (1, 2):
        ok, fail, refused = (rows[f"{word}{n}@example.com"] for word in ("ok", "fail", "refuse"))
        nobody = rows[f"nobody{n}@example.com"]
        assert (ok.status, ok.locale, ok.subject, ok.lease_expires_at) == (
            Status.SENT,
            "en",
            subject,
            None,
        )
        assert (fail.status, fail.locale, fail.subject, fail.lease_expires_at) == (
            Status.QUEUED,
            "en",
            subject,
            None,
        )
        assert fail.last_error.startswith("AnymailRequestsAPIError: Postmark API response 500")
        assert fail.next_attempt_at == START + RETRY_DELAY
        assert (refused.status, refused.locale, refused.subject) == (Status.FAILED, "en", subject)
        assert refused.lease_expires_at is None
        assert (nobody.status, nobody.last_error, nobody.lease_expires_at) == (
            Status.CANCELLED,
            "Marketing email without the customer's consent.",
            None,
        )
    assert [payload["To"] for payload in postmark.requests] == addresses
    warnings = {
        record.getMessage().partition(": ")[0]: record.getMessage()
        for record in caplog.records
        if record.levelname == "WARNING"
    }
    retried, refused = (rows[f"{word}1@example.com"] for word in ("fail", "refuse"))
    assert warnings[f"Email {retried.pk} not sent (attempt 1)"] == (
        f"Email {retried.pk} not sent (attempt 1): {retried.last_error}"
    )
    # The ESP's words quote the address: the log masks it.
    assert "refuse1@example.com" in refused.last_error
    assert warnings[f"Email {refused.pk} failed"] == (
        f"Email {refused.pk} failed: "
        + refused.last_error.replace("refuse1@example.com", "<email>")
    )


def test_a_refusal_keeps_the_esps_words_up_to_2000_characters(postmark, merchant):
    def refuse_at_length(payload):
        status, body = fake_postmark.refuse(payload)
        return status, {**body, "Message": body["Message"] + "x" * 3000}

    postmark.answer = refuse_at_length
    queue_emails([enrollment_request(merchant, "ana@example.com")])

    assert send_queued_emails().failed == 1

    email = OutgoingEmail.objects.get()
    assert email.last_error.startswith("Refused: ")
    assert "marked as inactive" in email.last_error
    assert email.last_error.endswith("xxx")
    assert len(email.last_error) == 2000


def test_an_address_the_esp_cannot_take_fails_at_once_without_a_request(postmark, merchant):
    queue_emails([enrollment_request(merchant, "ana")])

    assert send_queued_emails().failed == 1

    email = OutgoingEmail.objects.get()
    assert email.status == Status.FAILED
    # anymail's words, and no ESP answer after them.
    assert email.last_error.startswith("Refused: Invalid email address 'ana' in `to`")
    assert email.last_error.endswith("with no domain.")
    assert postmark.requests == []


def test_a_template_that_fails_to_render_fails_the_email_with_the_reason(merchant):
    # Checked against its sample when saved through the admin; this row's data differs.
    EmailTemplate.objects.create(
        code="per_visit",
        subject="Every {{ every|divisibleby:divisor }} visits",
        text_body="text",
        html_body="<p>html</p>",
    )
    queue_emails(
        [
            EmailRequest(
                merchant_id=merchant.pk,
                customer_id=None,
                to="ana@example.com",
                template="per_visit",
                context={"every": 3, "divisor": 0},
            )
        ]
    )

    assert send_queued_emails().as_dict() == {"sent": 0, "retried": 0, "failed": 1, "cancelled": 0}

    email = OutgoingEmail.objects.get()
    assert (email.status, email.lease_expires_at) == (Status.FAILED, None)
    assert email.last_error == (
        "The template did not render: ZeroDivisionError: integer modulo by zero"
    )
    assert mail.outbox == []


def test_each_email_of_a_batch_gets_its_own_locale_and_overriding_template(
    merchant, store, other_store
):
    merchant.default_locale = "lb"
    merchant.save()
    for scope in ({"merchant": merchant}, {"merchant": merchant, "store": store}):
        for locale in ("en", "fr"):
            EmailTemplate.objects.create(
                code=emails.ENROLLMENT,
                locale=locale,
                subject=f"{locale} {scope.get('store', merchant)}",
                text_body="text",
                html_body="<p>html</p>",
                **scope,
            )
    german = CustomerFactory(merchant=merchant, locale="de")
    queue_emails(
        [
            enrollment_request(merchant, "store-fr@example.com", store_id=store.pk, locale="fr"),
            enrollment_request(merchant, "store-en@example.com", store_id=store.pk, locale="en"),
            enrollment_request(
                merchant, "north-fr@example.com", store_id=other_store.pk, locale="fr"
            ),
            enrollment_request(merchant, "merchant-en@example.com", locale="en"),
            # The customer's locale when the row names none; German has no override.
            enrollment_request(merchant, "german@example.com", customer_id=german.pk),
            # The row's own locale over the customer's.
            enrollment_request(
                merchant, "german-fr@example.com", customer_id=german.pk, locale="fr"
            ),
            # No customer: the merchant's default locale.
            enrollment_request(merchant, "guest@example.com"),
        ]
    )

    assert send_queued_emails().sent == 7

    sent = {row.to: (row.locale, row.subject) for row in OutgoingEmail.objects.all()}
    assert sent == {
        "store-fr@example.com": ("fr", f"fr {store}"),
        "store-en@example.com": ("en", f"en {store}"),
        "north-fr@example.com": ("fr", f"fr {merchant}"),
        "merchant-en@example.com": ("en", f"en {merchant}"),
        "german@example.com": ("de", "Willkommen bei Rewards von Alice's Bakery"),
        "german-fr@example.com": ("fr", f"fr {merchant}"),
        "guest@example.com": ("lb", "Wëllkomm bei Rewards vun Alice's Bakery"),
    }
    assert {message.to[0]: message.subject for message in mail.outbox} == {
        to: subject for to, (_, subject) in sent.items()
    }
    # The local backend gives no ESP id to look for.
    assert set(OutgoingEmail.objects.values_list("esp_message_id", flat=True)) == {""}


def test_a_batch_is_the_100_oldest_due_emails_and_max_batches_counts_them(merchant):
    queue_emails([enrollment_request(merchant, f"c{n}@example.com") for n in range(201)])

    assert send_queued_emails(max_batches=1).sent == 100
    assert [message.to[0] for message in mail.outbox] == [f"c{n}@example.com" for n in range(100)]
    assert send_queued_emails(max_batches=1).sent == 100
    assert OutgoingEmail.objects.get(status=Status.QUEUED).to == "c200@example.com"
    assert send_queued_emails().sent == 1


def test_a_sender_stops_after_max_batches(merchant):
    queue_emails([enrollment_request(merchant, f"c{n}@example.com") for n in range(201)])

    assert send_queued_emails(max_batches=2).sent == 200

    assert OutgoingEmail.objects.get(status=Status.QUEUED).to == "c200@example.com"


def test_a_row_whose_senders_died_four_times_is_given_up(postmark, merchant):
    queue_emails(
        [enrollment_request(merchant, to) for to in ("worn@example.com", "ok@example.com")]
    )
    expired = timezone.now() - datetime.timedelta(seconds=1)
    OutgoingEmail.objects.filter(to="worn@example.com").update(
        status=Status.SENDING, attempts=MAX_ATTEMPTS, lease_expires_at=expired
    )
    OutgoingEmail.objects.filter(to="ok@example.com").update(
        status=Status.SENDING, attempts=MAX_ATTEMPTS - 1, lease_expires_at=expired
    )

    assert send_queued_emails().as_dict() == {"sent": 1, "retried": 0, "failed": 0, "cancelled": 0}

    worn = OutgoingEmail.objects.get(to="worn@example.com")
    assert (worn.status, worn.attempts, worn.lease_expires_at) == (
        Status.FAILED,
        MAX_ATTEMPTS,
        None,
    )
    assert worn.last_error == "Its sender stopped without an answer 4 times."
    ok = OutgoingEmail.objects.get(to="ok@example.com")
    assert (ok.status, ok.attempts) == (Status.SENT, MAX_ATTEMPTS)
    assert postmark.accepted_per_recipient() == {"ok@example.com": 1}


def test_an_outcome_is_not_recorded_once_another_sender_took_the_row_over(
    postmark, merchant, monkeypatch
):
    queue_emails([enrollment_request(merchant, "ana@example.com")])
    email = OutgoingEmail.objects.get(to="ana@example.com")
    taken_over = timezone.now() + 2 * LEASE
    send_messages = PostmarkBackend.send_messages

    def taken_over_while_sending(self, messages):
        # As if this sender had stalled past its lease and another had claimed the row.
        OutgoingEmail.objects.filter(pk=email.pk).update(lease_expires_at=taken_over, attempts=2)
        return send_messages(self, messages)

    monkeypatch.setattr(PostmarkBackend, "send_messages", taken_over_while_sending)
    send_queued_emails(max_batches=1)

    email.refresh_from_db()
    assert (email.status, email.lease_expires_at, email.attempts) == (
        Status.SENDING,
        taken_over,
        2,
    )
    assert (email.esp_message_id, email.sent_at) == ("", None)


def test_the_sender_refuses_to_run_inside_a_transaction(merchant):
    queue_emails([enrollment_request(merchant, "ana@example.com")])

    # Its claims would stay locked, and its outcomes unwritten, until the caller commits.
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        send_queued_emails()

    assert OutgoingEmail.objects.get().status == Status.QUEUED


@pytest.mark.postgres
def test_outcomes_commit_without_waiting_for_the_disk_only_while_sending(
    postmark, merchant, monkeypatch
):
    queue_emails([enrollment_request(merchant, "ana@example.com")])
    send_messages = PostmarkBackend.send_messages
    seen = []

    def send_and_look(self, messages):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        return send_messages(self, messages)

    monkeypatch.setattr(PostmarkBackend, "send_messages", send_and_look)
    assert send_queued_emails().sent == 1

    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sender_skips_the_rows_another_sender_holds_instead_of_waiting(merchant, settings):
    settings.EMAIL_SEND_AFTER_COMMIT = False
    queue_emails([enrollment_request(merchant, f"c{n}@example.com") for n in range(3)])
    held = OutgoingEmail.objects.get(to="c0@example.com")
    locked, sender_done = threading.Event(), threading.Event()

    def other_sender():
        # Holds the first row as a sender's claim does, until this sender is done (or 10 s).
        try:
            with transaction.atomic():
                OutgoingEmail.objects.select_for_update().get(pk=held.pk)
                locked.set()
                sender_done.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=other_sender)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        counts = send_queued_emails(max_batches=1)
        sender_done.set()
    finally:
        holder.join()

    assert counts.sent == 2
    assert sorted(message.to[0] for message in mail.outbox) == ["c1@example.com", "c2@example.com"]
    held.refresh_from_db()
    assert (held.status, held.attempts) == (Status.QUEUED, 0)


def test_a_recipient_refused_over_smtp_fails_at_once_with_the_servers_words(merchant, settings):
    server = fake_smtp.RefusingSmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    queue_emails([enrollment_request(merchant, "ana@example.com")])
    try:
        assert send_queued_emails().as_dict() == {
            "sent": 0,
            "retried": 0,
            "failed": 1,
            "cancelled": 0,
        }
    finally:
        server.stop()

    email = OutgoingEmail.objects.get()
    assert email.status == Status.FAILED
    assert email.last_error == (
        "Refused: {'ana@example.com': (550, b'5.1.1 Mailbox unavailable')}."
    )
