"""`/metrics`: who may read it, that it lists every metric of the README, and that the figures
move with what the platform does (tasks, emails, the enrolment page, the business figures
read from the database). The terminal's counters: tests/api/test_terminal_metrics.py; several
processes: tests/test_metrics_processes.py."""

import datetime
import ipaddress
import time

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from loyalty import emails
from loyalty.metrics.figures import (
    AT_RISK_REFRESH_SECONDS,
    FIGURES_KEY,
    FIGURES_REFRESH_ASKED_KEY,
    FIGURES_REFRESH_SECONDS,
)
from loyalty.metrics.tasks import SENDER_LAST_SUCCESS_KEY
from loyalty.models import TaskRun
from loyalty.services.analytics_summaries import refresh_all_analytics
from loyalty.services.ledger import add_stamps, adjust_points, earn_points, redeem_stamps
from loyalty.tasks import EXPIRE_POINTS, SYNC_WALLET_PASSES, expire_points
from messaging.models import OutgoingEmail
from messaging.services import EmailRequest, queue_emails
from messaging.services.sending import send_queued_emails
from messaging.services.tracking import record_delivery_event
from messaging.tasks import send_queued_emails as send_queued_emails_task
from tests.factories import CardFactory, MerchantFactory, ProgramFactory, StoreFactory
from tests.metrics_support import METRICS_TOKEN, readme_metric_names, scrape
from tests.test_settings_and_demo import manage_py

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _metrics_settings(settings):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []
    cache.clear()


# Who may read it ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": f"Token {METRICS_TOKEN}"},
        {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}x"},
        # Without a trusted proxy the header is the client's own writing.
        {"HTTP_X_FORWARDED_FOR": "10.1.2.3"},
    ],
)
def test_it_refuses_without_the_token_or_an_allowed_address(client, settings, card, headers):
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]

    response = client.get("/metrics", **headers)

    assert response.status_code == 403
    assert response.content == b"Forbidden\n"


def test_an_allowed_address_reads_it_without_a_token(client, settings, card):
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("127.0.0.0/8")]

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.9")

    assert response.status_code == 200
    assert b"loyalty_cards{" in response.content


def test_behind_a_trusted_proxy_the_forwarded_client_is_the_one_checked(client, settings, card):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("192.0.2.10/32")]

    allowed = client.get("/metrics", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.10")
    # The proxy's own address is not the client's.
    refused = client.get("/metrics", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="10.9.9.9")

    assert (allowed.status_code, refused.status_code) == (200, 403)


def test_with_neither_setting_nobody_reads_it(client, settings, card):
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics").status_code == 403


def test_a_malformed_allowed_address_stops_start_up():
    result = manage_py("check", METRICS_ALLOWED_IPS="10.0.0.0/8,not-an-address")

    assert result.returncode != 0
    assert "METRICS_ALLOWED_IPS: 'not-an-address' does not appear to be" in result.stderr


# What it lists --------------------------------------------------------------------------


def test_every_metric_of_the_readme_is_in_the_scrape(client, card):
    TaskRun.objects.create(
        task=SYNC_WALLET_PASSES,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status=TaskRun.Status.SUCCEEDED,
        counts={"pushed": 3, "failed": 1},
    )
    names = readme_metric_names()

    families = scrape(client).families

    # The contract's 22 metrics, each once in the README.
    assert len(names) == len(set(names)) == 22
    # The parser names a counter's family without its _total.
    missing = [name for name in names if name.removesuffix("_total") not in families]
    assert missing == []


# Periodic jobs --------------------------------------------------------------------------


def test_a_task_run_counts_its_outcome_and_duration_and_its_last_success(client, program):
    before = scrape(client)

    expire_points.delay()

    after = scrape(client)
    run = TaskRun.objects.get(task=EXPIRE_POINTS)
    labels = {"task": EXPIRE_POINTS}
    runs = "loyalty_task_runs_total"
    assert after.value(runs, outcome="succeeded", **labels) == (
        before.value(runs, outcome="succeeded", **labels) + 1
    )
    assert after.value(runs, outcome="failed", **labels) == before.value(
        runs, outcome="failed", **labels
    )
    count = "loyalty_task_duration_seconds_count"
    assert after.value(count, **labels) == before.value(count, **labels) + 1
    assert after.value("loyalty_task_last_success_timestamp_seconds", **labels) == (
        run.finished_at.timestamp()
    )


def test_a_failed_run_counts_as_failed_and_moves_no_last_success(client, program, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("loyalty.tasks.expire_points_service", broken)
    before = scrape(client)

    with pytest.raises(RuntimeError):
        expire_points.delay()

    after = scrape(client)
    runs = "loyalty_task_runs_total"
    labels = {"task": EXPIRE_POINTS}
    assert after.value(runs, outcome="failed", **labels) == (
        before.value(runs, outcome="failed", **labels) + 1
    )
    assert not after.has_sample("loyalty_task_last_success_timestamp_seconds", **labels)


def test_a_run_for_some_merchants_is_not_the_nightly_success(client, program):
    now = timezone.now()
    TaskRun.objects.create(
        task=EXPIRE_POINTS,
        scope="alice-bakery",
        started_at=now,
        finished_at=now,
        status=TaskRun.Status.SUCCEEDED,
    )
    full_run_at = now - datetime.timedelta(hours=30)
    TaskRun.objects.create(
        task=EXPIRE_POINTS,
        started_at=full_run_at,
        finished_at=full_run_at,
        status=TaskRun.Status.SUCCEEDED,
    )

    value = scrape(client).value("loyalty_task_last_success_timestamp_seconds", task=EXPIRE_POINTS)

    assert value == full_run_at.timestamp()


def test_the_email_senders_success_is_seen_though_it_records_no_run(client, card):
    cache.delete(SENDER_LAST_SUCCESS_KEY)
    assert not scrape(client).has_sample(
        "loyalty_task_last_success_timestamp_seconds", task="messaging.send_queued_emails"
    )
    started = timezone.now().timestamp()

    send_queued_emails_task.delay()

    after = scrape(client)
    value = after.value(
        "loyalty_task_last_success_timestamp_seconds", task="messaging.send_queued_emails"
    )
    assert started <= value <= timezone.now().timestamp()
    assert not TaskRun.objects.exists()


def test_the_wallet_failure_ratio_is_that_of_the_last_two_finished_sync_runs(client, db):
    now = timezone.now()
    for hours_ago, counts, status in [
        (3, {"pushed": 10, "failed": 0}, TaskRun.Status.SUCCEEDED),
        (2, {"pushed": 6, "failed": 2}, TaskRun.Status.SUCCEEDED),
        (1, {"pushed": 0, "failed": 0}, TaskRun.Status.SUCCEEDED),
        # Unfinished and failed runs have no counts: they tried nothing that can be told.
        (0, {}, TaskRun.Status.FAILED),
        (0, {}, TaskRun.Status.RUNNING),
    ]:
        at = now - datetime.timedelta(hours=hours_ago)
        TaskRun.objects.create(
            task=SYNC_WALLET_PASSES,
            started_at=at,
            finished_at=at if status != TaskRun.Status.RUNNING else None,
            status=status,
            counts=counts,
        )

    after = scrape(client)

    ratio = "loyalty_wallet_sync_run_failure_ratio"
    assert after.value(ratio, run="last") == 0.0
    assert after.value(ratio, run="previous") == 0.25


# Emails ---------------------------------------------------------------------------------


def request_for(card, template: str) -> EmailRequest:
    return EmailRequest(
        merchant_id=card.program.merchant_id,
        customer_id=card.customer_id,
        to=card.customer.email,
        template=template,
        context={"first_name": "Ana"},
    )


@pytest.mark.usefixtures("email_templates")
def test_emails_count_as_queued_sent_and_failed_by_template(
    client, card, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_SEND_AFTER_COMMIT = False
    before = scrape(client)

    with django_capture_on_commit_callbacks(execute=True):
        queue_emails([request_for(card, emails.ENROLLMENT), request_for(card, emails.ENROLLMENT)])
        queue_emails([request_for(card, "no_such_template")])
    send_queued_emails()

    after = scrape(client)

    def moved(template, status):
        name = "loyalty_emails_total"
        labels = {"template": template, "status": status}
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved(emails.ENROLLMENT, "queued") == 2
    assert moved(emails.ENROLLMENT, "sent") == 2
    assert moved("no_such_template", "queued") == 1
    assert moved("no_such_template", "failed") == 1
    assert moved(emails.ENROLLMENT, "failed") == 0


@pytest.mark.django_db(transaction=True)
def test_emails_queued_in_a_rolled_back_transaction_count_nothing(client, card, settings):
    settings.EMAIL_SEND_AFTER_COMMIT = False
    before = scrape(client)

    with pytest.raises(RuntimeError), transaction.atomic():
        queue_emails([request_for(card, emails.ENROLLMENT)])
        raise RuntimeError("the business transaction failed")

    after = scrape(client)
    labels = {"template": emails.ENROLLMENT, "status": "queued"}
    assert after.value("loyalty_emails_total", **labels) == before.value(
        "loyalty_emails_total", **labels
    )
    assert not OutgoingEmail.objects.exists()


def test_delivery_events_count_by_the_emails_template(client, merchant):
    email = OutgoingEmail.objects.create(
        merchant=merchant,
        to="ana@example.com",
        template=emails.REWARD_READY,
        status=OutgoingEmail.Status.SENT,
        esp_message_id="pm-7",
    )
    before = scrape(client)

    for event in ["delivered", "opened", "clicked", "opened", "bounced", "complained"]:
        record_delivery_event(esp_message_id="pm-7", event_type=event)
    record_delivery_event(esp_message_id="pm-unknown", event_type="delivered")

    after = scrape(client)
    for status, count in [
        ("delivered", 1),
        ("opened", 2),
        ("clicked", 1),
        ("bounced", 1),
        ("complained", 1),
    ]:
        labels = {"template": email.template, "status": status}
        moved = after.value("loyalty_emails_total", **labels) - before.value(
            "loyalty_emails_total", **labels
        )
        assert moved == count, status


# The enrolment page's funnel --------------------------------------------------------------


def test_the_enrolment_page_counts_its_funnel(
    client, program, store, django_capture_on_commit_callbacks
):
    before = scrape(client)
    url = "/enroll/alice-bakery/"
    form = {
        "first_name": "Nina",
        "last_name": "Muller",
        "email": "nina@example.com",
        "locale": "en",
        "accept_terms": "on",
    }

    page = client.get(url)
    beacon = client.post("/enroll/alice-bakery/started/")
    invalid = client.post(url, {**form, "email": "not-an-address"})
    with django_capture_on_commit_callbacks(execute=True):
        enrolled = client.post(url, form)

    assert (page.status_code, beacon.status_code, invalid.status_code) == (200, 204, 200)
    assert enrolled.status_code == 302
    # The page names the beacon for its script.
    assert 'data-started-beacon="/enroll/alice-bakery/started/"' in page.content.decode()
    after = scrape(client)
    moved = {
        step: after.value("loyalty_enrolment_funnel_total", merchant="alice-bakery", step=step)
        - before.value("loyalty_enrolment_funnel_total", merchant="alice-bakery", step=step)
        for step in ["page_view", "form_start", "submission", "success"]
    }
    assert moved == {"page_view": 1, "form_start": 1, "submission": 2, "success": 1}


def test_the_beacon_of_an_unknown_merchant_is_404_and_counts_nothing(client, program):
    before = scrape(client)

    response = client.post("/enroll/nobody-here/started/")
    get = client.get("/enroll/alice-bakery/started/")

    assert (response.status_code, get.status_code) == (404, 405)
    after = scrape(client)
    assert not after.has_sample(
        "loyalty_enrolment_funnel_total", merchant="nobody-here", step="form_start"
    )
    labels = {"merchant": "alice-bakery", "step": "form_start"}
    assert after.value("loyalty_enrolment_funnel_total", **labels) == before.value(
        "loyalty_enrolment_funnel_total", **labels
    )


# Business figures -----------------------------------------------------------------------


def test_the_business_figures_are_read_per_merchant_from_the_database(client, program, store):
    rival = MerchantFactory(slug="bob-books")
    rival_program = ProgramFactory(merchant=rival, stamps_target=2)
    rival_store = StoreFactory(merchant=rival)
    rival_card = CardFactory(program=rival_program, enrolled_store=rival_store)
    cards = [CardFactory(program=program, enrolled_store=store) for _ in range(3)]
    earn_points(card=cards[0], store=store, points=40)
    adjust_points(card=cards[0], store=store, points=5, reason="goodwill")
    adjust_points(card=cards[0], store=store, points=-3, reason="mistake")
    cards[1].is_active = False
    cards[1].save(update_fields=["is_active"])
    cards[2].deleted_at = timezone.now()
    cards[2].save(update_fields=["deleted_at"])
    add_stamps(card=rival_card, store=rival_store, count=2)
    redeem_stamps(card=rival_card, store=rival_store)

    after = scrape(client)

    def figures(merchant):
        return {
            name: after.value(name, merchant=merchant)
            for name in [
                "loyalty_enrolments_total",
                "loyalty_points_issued_total",
                "loyalty_stamp_completions_total",
                "loyalty_cards",
                "loyalty_active_cards",
                "loyalty_active_programs",
            ]
        }

    assert figures("alice-bakery") == {
        "loyalty_enrolments_total": 3,
        "loyalty_points_issued_total": 45,
        "loyalty_stamp_completions_total": 0,
        # One deactivated, one trashed.
        "loyalty_cards": 1,
        "loyalty_active_cards": 1,
        "loyalty_active_programs": 1,
    }
    assert figures("bob-books") == {
        "loyalty_enrolments_total": 1,
        "loyalty_points_issued_total": 0,
        "loyalty_stamp_completions_total": 1,
        "loyalty_cards": 1,
        "loyalty_active_cards": 1,
        "loyalty_active_programs": 1,
    }


def test_a_scrape_within_the_cache_time_reads_nothing_from_the_database(
    client, card, store, django_assert_num_queries
):
    first = scrape(client)
    earn_points(card=card, store=store, points=10)

    with django_assert_num_queries(0):
        cached = scrape(client, fresh_figures=False)

    later = timezone.now() + datetime.timedelta(seconds=FIGURES_REFRESH_SECONDS + 1)
    with time_machine.travel(later):
        fresh = scrape(client, fresh_figures=False)
    issued = "loyalty_points_issued_total"
    assert cached.value(issued, merchant="alice-bakery") == first.value(
        issued, merchant="alice-bakery"
    )
    assert fresh.value(issued, merchant="alice-bakery") == (
        first.value(issued, merchant="alice-bakery") + 10
    )


def test_a_worker_reads_the_figures_and_scrapes_show_the_last_ones_meanwhile(client, card, store):
    first = scrape(client)
    earn_points(card=card, store=store, points=10)
    stale = time.time() - FIGURES_REFRESH_SECONDS - 1
    cache.set(FIGURES_KEY, {**cache.get(FIGURES_KEY), "read_at": stale})
    # Another process has asked a worker already.
    cache.set(FIGURES_REFRESH_ASKED_KEY, True)

    meanwhile = scrape(client, fresh_figures=False)
    cache.delete(FIGURES_REFRESH_ASKED_KEY)
    # Without a broker the worker's task runs in this process, on the scrape's asking.
    read_again = scrape(client, fresh_figures=False)

    issued = "loyalty_points_issued_total"
    before = first.value(issued, merchant="alice-bakery")
    assert meanwhile.value(issued, merchant="alice-bakery") == before
    assert read_again.value(issued, merchant="alice-bakery") == before + 10
    assert cache.get(FIGURES_KEY)["read_at"] > stale


def test_churn_risk_is_counted_again_only_when_its_count_is_stale(client, program, store):
    card = CardFactory(program=program, enrolled_store=store)
    # Three visits a day apart, then 38 days of silence: far past twice its median gap.
    for days_ago in (40, 39, 38):
        with time_machine.travel(timezone.now() - datetime.timedelta(days=days_ago)):
            earn_points(card=card, store=store, points=1)
    # Churn risk reads the analytics' summaries, as of their last refresh.
    refresh_all_analytics(as_of=timezone.now())
    scrape(client)
    figures = cache.get(FIGURES_KEY)
    # Figures due for a new read, with a count of churn risk that is not.
    recent = time.time() - AT_RISK_REFRESH_SECONDS + 60
    old_figures = {"read_at": 0, "at_risk": {"alice-bakery": 7}}
    cache.set(FIGURES_KEY, {**figures, **old_figures, "at_risk_counted_at": recent})
    cache.delete(FIGURES_REFRESH_ASKED_KEY)
    kept = scrape(client, fresh_figures=False)
    assert cache.get(FIGURES_KEY)["read_at"] > recent
    stale = time.time() - AT_RISK_REFRESH_SECONDS - 1
    cache.set(FIGURES_KEY, {**figures, **old_figures, "at_risk_counted_at": stale})
    cache.delete(FIGURES_REFRESH_ASKED_KEY)
    recounted = scrape(client, fresh_figures=False)

    assert kept.value("loyalty_at_risk_cards", merchant="alice-bakery") == 7
    assert recounted.value("loyalty_at_risk_cards", merchant="alice-bakery") == 1
    assert cache.get(FIGURES_KEY)["at_risk_counted_at"] > stale
