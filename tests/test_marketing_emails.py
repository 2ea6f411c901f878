"""Birthday and re-engagement emails, chosen with frozen time across time zones."""

import datetime

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from loyalty import emails
from loyalty.models import Card, TaskRun
from loyalty.services import marketing_emails
from loyalty.services.ledger import earn_points
from loyalty.tasks import send_birthday_emails, send_reengagement_emails
from messaging.models import OutgoingEmail
from tests.factories import CardFactory, CustomerFactory, MerchantFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def birthday_card(merchant, born: datetime.date, *, consent=True, **customer):
    program = merchant.programs.first() or ProgramFactory(merchant=merchant)
    customer = CustomerFactory(
        merchant=merchant, birth_date=born, marketing_consent=consent, **customer
    )
    return CardFactory(program=program, customer=customer)


def run_birthdays_at(moment: str) -> list[str]:
    """Run the birthday job at that UTC instant; the addresses it emailed."""
    before = set(OutgoingEmail.objects.values_list("pk", flat=True))
    with time_machine.travel(datetime.datetime.fromisoformat(moment), tick=False):
        send_birthday_emails.delay()
    new = OutgoingEmail.objects.exclude(pk__in=before)
    assert set(new.values_list("template", flat=True)) <= {emails.BIRTHDAY}
    return sorted(new.values_list("to", flat=True))


@pytest.fixture
def zones():
    return {
        name: MerchantFactory(timezone=zone)
        for name, zone in [
            ("lux", "Europe/Luxembourg"),
            ("ny", "America/New_York"),
            ("auckland", "Pacific/Auckland"),
        ]
    }


def test_birthday_emails_go_out_from_8_am_in_each_merchants_time_zone(zones):
    born = datetime.date(1990, 6, 10)
    lux = birthday_card(zones["lux"], born, email="lux@example.com")
    birthday_card(zones["ny"], born, email="ny@example.com")
    birthday_card(zones["auckland"], born, email="akl@example.com")
    birthday_card(zones["lux"], datetime.date(1990, 6, 11), email="tomorrow@example.com")
    birthday_card(zones["lux"], born, consent=False, email="no-consent@example.com")
    birthday_card(zones["lux"], born, email="gone@example.com", anonymized_at=timezone.now())

    # 07:30 in Luxembourg, 19:30 in Auckland, 01:30 in New York.
    assert run_birthdays_at("2026-06-10T05:30:00+00:00") == ["akl@example.com"]
    # 08:30 in Luxembourg.
    assert run_birthdays_at("2026-06-10T06:30:00+00:00") == ["lux@example.com"]
    # 08:00 in New York; Luxembourg and Auckland had theirs.
    assert run_birthdays_at("2026-06-10T12:00:00+00:00") == ["ny@example.com"]
    # A second run the same day sends nothing.
    assert run_birthdays_at("2026-06-10T13:00:00+00:00") == []

    email = OutgoingEmail.objects.get(to="lux@example.com")
    assert email.is_marketing is True
    assert email.context["card_url"].endswith("/")
    assert email.store_id == lux.enrolled_store_id
    lux.customer.refresh_from_db()
    assert lux.customer.last_birthday_email_on == datetime.date(2026, 6, 10)
    run = TaskRun.objects.filter(task="loyalty.send_birthday_emails").first()
    assert (run.status, run.counts) == (TaskRun.Status.SUCCEEDED, {"emails": 0})


def test_birthdays_follow_the_local_date_across_the_new_year(zones):
    birthday_card(zones["auckland"], datetime.date(1980, 1, 1), email="akl-new-year@example.com")
    lux_eve = birthday_card(zones["lux"], datetime.date(1980, 12, 31), email="lux-eve@example.com")
    # Emailed last year, on the 31st: this year's email is still due.
    lux_eve.customer.last_birthday_email_on = datetime.date(2025, 12, 31)
    lux_eve.customer.save()
    birthday_card(zones["lux"], datetime.date(1980, 1, 1), email="lux-new-year@example.com")

    # 31 December 19:30 UTC: 08:30 on 1 January in Auckland, 20:30 on the 31st in Luxembourg.
    assert run_birthdays_at("2026-12-31T19:30:00+00:00") == [
        "akl-new-year@example.com",
        "lux-eve@example.com",
    ]
    assert run_birthdays_at("2027-01-01T07:00:00+00:00") == ["lux-new-year@example.com"]
    assert run_birthdays_at("2027-01-01T09:00:00+00:00") == []


def test_a_29_february_birthday_is_on_the_28th_in_other_years(zones):
    birthday_card(zones["lux"], datetime.date(2000, 2, 29), email="leap@example.com")

    assert run_birthdays_at("2027-02-28T09:00:00+00:00") == ["leap@example.com"]
    assert run_birthdays_at("2027-03-01T09:00:00+00:00") == []
    assert run_birthdays_at("2028-02-28T09:00:00+00:00") == []
    assert run_birthdays_at("2028-02-29T09:00:00+00:00") == ["leap@example.com"]


def test_a_customer_with_two_cards_gets_one_birthday_email(zones, other_store):
    card = birthday_card(zones["lux"], datetime.date(1990, 6, 10), email="two@example.com")
    CardFactory(program=card.program, customer=card.customer)

    assert run_birthdays_at("2026-06-10T09:00:00+00:00") == ["two@example.com"]


NOW = datetime.datetime(2026, 6, 10, 8, 0, tzinfo=datetime.UTC)


def card_last_active(program, days_ago: float, *, consent=True):
    card = CardFactory(program=program, customer__marketing_consent=consent)
    with time_machine.travel(NOW - datetime.timedelta(days=days_ago), tick=False):
        earn_points(card=card, store=None, points=30)
    return card


def run_reengagement_at(moment: datetime.datetime) -> list[int]:
    before = set(OutgoingEmail.objects.values_list("pk", flat=True))
    with time_machine.travel(moment, tick=False):
        send_reengagement_emails.delay()
    new = OutgoingEmail.objects.exclude(pk__in=before)
    assert set(new.values_list("template", flat=True)) <= {emails.REENGAGEMENT}
    return sorted(new.values_list("customer_id", flat=True))


def test_reengagement_emails_go_to_cards_inactive_longer_than_the_programmes_setting(merchant):
    program = ProgramFactory(merchant=merchant)
    assert program.reengagement_after_days == 60
    inactive = card_last_active(program, 61)
    card_last_active(program, 59)
    card_last_active(program, 90, consent=False)
    quiet = ProgramFactory(reengagement_after_days=None)
    card_last_active(quiet, 400)
    short = ProgramFactory(reengagement_after_days=30)
    short_inactive = card_last_active(short, 31)

    assert run_reengagement_at(NOW) == sorted([inactive.customer_id, short_inactive.customer_id])
    # A second run the same day sends nothing.
    assert run_reengagement_at(NOW + datetime.timedelta(hours=2)) == []

    email = OutgoingEmail.objects.get(customer_id=inactive.customer_id)
    assert (email.is_marketing, email.context["days_inactive"]) == (True, 61)
    assert email.context["points_balance"] == 30
    inactive.refresh_from_db()
    assert inactive.last_reengagement_at == NOW


def test_a_card_gets_at_most_one_reengagement_email_a_quarter(merchant):
    program = ProgramFactory(merchant=merchant)
    card = card_last_active(program, 61)

    assert run_reengagement_at(NOW) == [card.customer_id]
    assert run_reengagement_at(NOW + datetime.timedelta(days=7)) == []
    assert run_reengagement_at(NOW + datetime.timedelta(days=84)) == []
    assert run_reengagement_at(NOW + datetime.timedelta(days=91)) == [card.customer_id]


def test_birthday_counts_add_up_over_time_zones(zones):
    born = datetime.date(1990, 6, 10)
    birthday_card(zones["lux"], born)
    birthday_card(zones["lux"], born)
    birthday_card(zones["auckland"], born)

    # 10:00 in Luxembourg, 20:00 in Auckland: both past 08:00 on 10 June.
    now = datetime.datetime(2026, 6, 10, 8, 0, tzinfo=datetime.UTC)
    assert marketing_emails.send_birthday_emails(now=now) == {"emails": 3}


def test_a_birthday_is_the_month_and_the_day(zones):
    birthday_card(zones["lux"], datetime.date(1990, 6, 10), email="june@example.com")
    birthday_card(zones["lux"], datetime.date(1990, 7, 10), email="july@example.com")
    birthday_card(zones["lux"], datetime.date(1990, 6, 11), email="next-day@example.com")

    assert run_birthdays_at("2026-06-10T09:00:00+00:00") == ["june@example.com"]


def test_on_28_february_of_a_common_year_only_the_28th_and_29th_are_wished(zones):
    for born, email in [
        (datetime.date(1990, 2, 28), "feb28@example.com"),
        (datetime.date(1992, 2, 29), "feb29@example.com"),
        (datetime.date(1990, 1, 29), "jan29@example.com"),
        (datetime.date(1990, 2, 10), "feb10@example.com"),
    ]:
        birthday_card(zones["lux"], born, email=email)

    assert run_birthdays_at("2027-02-28T09:00:00+00:00") == [
        "feb28@example.com",
        "feb29@example.com",
    ]


def trashed(instance):
    type(instance).all_objects.filter(pk=instance.pk).update(deleted_at=timezone.now())
    return instance


@pytest.mark.parametrize("excluded", ["inactive card", "trashed card", "trashed programme"])
def test_marketing_emails_skip_inactive_and_trashed_cards_and_programmes(zones, excluded):
    born = datetime.date(1990, 6, 10)
    kept = birthday_card(zones["lux"], born, email="kept@example.com")
    other = MerchantFactory(timezone="Europe/Luxembourg")
    program = ProgramFactory(merchant=other, reengagement_after_days=30)
    customer = CustomerFactory(merchant=other, birth_date=born, marketing_consent=True)
    card = CardFactory(program=program, customer=customer)
    with time_machine.travel(NOW - datetime.timedelta(days=40), tick=False):
        earn_points(card=card, store=None, points=5)
    if excluded == "inactive card":
        Card.objects.filter(pk=card.pk).update(is_active=False)
    elif excluded == "trashed card":
        trashed(card)
    else:
        trashed(program)

    assert run_birthdays_at("2026-06-10T09:00:00+00:00") == [kept.customer.email]
    assert card.customer_id not in run_reengagement_at(NOW)


def test_a_trashed_merchant_gets_no_marketing_emails(zones):
    born = datetime.date(1990, 6, 10)
    birthday_card(zones["lux"], born, email="kept@example.com")
    gone = trashed(MerchantFactory(timezone="Europe/Luxembourg"))
    gone_card = birthday_card(gone, born, email="gone@example.com")
    quiet = card_last_active(gone_card.program, 90)

    assert run_birthdays_at("2026-06-10T09:00:00+00:00") == ["kept@example.com"]
    assert run_reengagement_at(NOW) == []
    quiet.refresh_from_db()
    assert quiet.last_reengagement_at is None


def test_reengagement_counts_add_up_over_programmes_and_chunks(merchant, monkeypatch):
    monkeypatch.setattr(marketing_emails, "CHUNK_SIZE", 2)
    first, second = ProgramFactory(merchant=merchant), ProgramFactory()
    for program, cards in [(first, 3), (second, 1)]:
        for _ in range(cards):
            card_last_active(program, 61)

    with time_machine.travel(NOW, tick=False):
        assert marketing_emails.send_reengagement_emails(now=NOW) == {"emails": 4}
        assert marketing_emails.send_reengagement_emails(now=NOW) == {"emails": 0}


def test_the_card_with_the_first_id_gets_its_reengagement_email(merchant):
    program = ProgramFactory(merchant=merchant)
    card = CardFactory(pk=1, program=program, customer__marketing_consent=True)
    with time_machine.travel(NOW - datetime.timedelta(days=61), tick=False):
        earn_points(card=card, store=None, points=30)

    assert run_reengagement_at(NOW) == [card.customer_id]


@pytest.mark.parametrize("job", ["birthdays", "reengagement"])
def test_the_jobs_refuse_to_run_inside_a_transaction(merchant, job):
    """Each chunk commits on its own (what it emailed is marked with its emails): an outer
    transaction would hold every lock until the end and lose the marks on a rollback."""
    run = {
        "birthdays": marketing_emails.send_birthday_emails,
        "reengagement": marketing_emails.send_reengagement_emails,
    }[job]
    card_last_active(birthday_card(merchant, datetime.date(1990, 6, 10)).program, 61)
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        run(now=NOW + datetime.timedelta(hours=4))
