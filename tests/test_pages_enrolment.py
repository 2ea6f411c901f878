"""The enrolment page (/enroll/<merchant>/) and its success page, through the test client:
the form and each of its errors, an enrolment through the same service as the terminal, the
answer to an address that already has a card, the rate limits and CSRF."""

import datetime
import re
from html import unescape

import pytest
import time_machine
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from loyalty import card_links, card_numbers, emails
from loyalty.models import Card, Transaction, TransactionType
from messaging.models import OutgoingEmail
from tests.factories import CardFactory, CustomerFactory, MerchantFactory, ProgramFactory
from tests.links import token_of

pytestmark = pytest.mark.django_db

URL = "/enroll/alice-bakery/"
# Rate limits count per clock window: the calls of one test all go in at one instant.
NOW = datetime.datetime(2026, 6, 10, 12, 0, 30, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def program(merchant, store, other_store):
    return ProgramFactory(
        merchant=merchant, name="Bread Club", welcome_bonus_points=50, terms_text="Be kind."
    )


def form(**changes):
    data = {
        "first_name": "Nina",
        "last_name": "Muller",
        "email": "Nina@Example.com",
        "phone": "+352 621 123 456",
        "birth_date": "1990-04-17",
        "locale": "fr",
        "accept_terms": "on",
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def main_of(response) -> str:
    return re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)


def field_errors(response) -> dict[str, str]:
    """Each field's error as shown next to it: {field: message}."""
    html = response.content.decode()
    return {
        name: unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", message)).strip())
        for name, message in re.findall(
            r'<p class="field__error" id="id_(\w+)_error">(.*?)</p>', html, re.S
        )
    }


def test_the_form_shows_every_field_with_consent_unticked(client, program):
    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Join Bread Club</h1>" in html
    for name in ("first_name", "last_name", "email", "phone", "birth_date", "locale"):
        assert f'<label for="id_{name}">' in html
    assert re.search(
        r'<input type="checkbox" name="marketing_consent" id="id_marketing_consent"\s*>', html
    )
    assert 'name="accept_terms"' in html and "required" in html
    assert 'type="date"' in html and 'autocomplete="bday"' in html
    assert '<option value="lb" lang="lb">Lëtzebuergesch</option>' in html
    assert "Be kind." in html  # the programme's terms_text
    assert "starting with 50 welcome points" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_the_terms_come_from_the_programmes_flat_page_when_it_has_one(client, program):
    page = FlatPage.objects.create(
        url="/bread-club-terms/", title="Bread Club rules", content="<p>Rule <em>one</em>.</p>"
    )
    page.sites.add(Site.objects.get_current())
    program.terms_page = "bread-club-terms"
    program.save()

    html = client.get(URL).content.decode()

    assert "<summary>Bread Club rules</summary>" in html
    assert "<p>Rule <em>one</em>.</p>" in html
    assert "Be kind." not in html


def test_an_enrolment_makes_the_card_through_the_service_and_shows_the_success_page(
    client, program, store
):
    response = client.post(URL, form(marketing_consent="on"))

    card = Card.objects.get()
    # The success page speaks the language the customer chose.
    assert response.status_code == 302
    assert response["Location"] == "/fr/enroll/alice-bakery/welcome/"
    customer = card.customer
    assert (customer.email, customer.first_name, customer.last_name) == (
        "Nina@example.com",
        "Nina",
        "Muller",
    )
    assert (customer.phone, customer.birth_date, customer.locale) == (
        "+352 621 123 456",
        datetime.date(1990, 4, 17),
        "fr",
    )
    assert customer.marketing_consent is True
    assert (card.program, card.enrolled_store, card.points_balance) == (program, store, 50)
    bonus = Transaction.objects.get(card=card)
    assert (bonus.type, bonus.points_delta) == (TransactionType.WELCOME_BONUS, 50)
    queued = OutgoingEmail.objects.order_by("pk")
    assert [email.template for email in queued] == [emails.ENROLLMENT, emails.WELCOME_BONUS]
    assert card_links.card_from_token(token_of(queued[0].context["card_url"])) == card

    page = client.get(response["Location"])

    html = page.content.decode()
    assert page.status_code == 200
    assert page["Content-Language"] == "fr"
    assert "Bienvenue ! Votre carte est prête" in html
    assert card_numbers.display(card.number) in html
    assert '<svg role="img" viewBox=' in html
    assert f"<title>Code QR de la carte {card_numbers.display(card.number)}</title>" in html
    assert "50 points de bienvenue sont déjà sur votre carte." in html
    link = re.search(r'href="(/card/[^"]+/)"', html).group(1)
    assert card_links.card_from_token(link.removeprefix("/card/").removesuffix("/")) == card
    assert "Google Wallet" not in html
    assert "no-store" in page["Cache-Control"]


def test_the_enrolling_store_comes_from_the_store_parameter(client, program, other_store):
    client.post(f"{URL}?store=north", form())

    assert Card.objects.get().enrolled_store == other_store


@pytest.mark.parametrize(
    "path",
    ["/enroll/nobody/", "/enroll/alice-bakery/?store=nowhere", "/fr/enroll/nobody/"],
)
def test_an_unknown_merchant_or_store_is_a_friendly_404(client, program, path):
    response = client.get(path)

    assert response.status_code == 404
    assert b"Page not found" in response.content or "Page introuvable" in response.content.decode()


def test_a_merchant_without_a_live_programme_has_no_enrolment_page(client, merchant, store):
    assert client.get(URL).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"first_name": ""}, "first_name", "Enter your first name."),
        ({"last_name": " "}, "last_name", "Enter your last name."),
        ({"email": ""}, "email", "Enter your email address."),
        ({"email": "nina@"}, "email", "Enter an email address like name@example.com."),
        (
            {"phone": "call me"},
            "phone",
            "Enter a phone number with digits, spaces and + ( ) - only.",
        ),
        ({"birth_date": "2001-02-30"}, "birth_date", "Enter a real date, for example 1990-04-17."),
        ({"birth_date": "yesterday"}, "birth_date", "Enter a real date, for example 1990-04-17."),
        ({"locale": "it"}, "locale", "Choose one of the languages listed."),
        ({"accept_terms": None}, "accept_terms", "Accept the programme's terms to join."),
    ],
)
def test_each_invalid_field_is_refused_with_its_message_next_to_it(
    client, program, changes, field, message
):
    response = client.post(URL, form(**changes))

    assert response.status_code == 200
    assert field_errors(response) == {field: f"Error: {message}"}
    html = response.content.decode()
    # Tied to the control, listed in the summary that screen readers announce.
    assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', html) or re.search(
        rf'aria-invalid="true"[^>]*id="id_{field}"', html
    )
    assert re.search(rf'aria-describedby="[^"]*id_{field}_error', html)
    assert 'role="alert" aria-live="assertive"' in html
    assert f'href="#id_{field}"' in html
    assert "<title>Error: Join Bread Club" in html
    assert not Card.objects.exists() and not Customer.objects.exists()
    assert not OutgoingEmail.objects.exists()


def test_a_birthday_in_the_future_is_refused(client, program):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    response = client.post(URL, form(birth_date=tomorrow.isoformat()))

    assert field_errors(response) == {"birth_date": "Error: Your birthday cannot be in the future."}
    assert not Card.objects.exists()


def test_a_birthday_more_than_120_years_ago_is_refused_and_120_is_accepted(client, program):
    today = timezone.localdate()
    too_old = today.replace(year=today.year - 121)

    response = client.post(URL, form(birth_date=too_old.isoformat()))

    assert field_errors(response) == {
        "birth_date": "Error: Enter a birthday less than 120 years ago."
    }
    oldest = too_old + datetime.timedelta(days=1)
    assert client.post(URL, form(birth_date=oldest.isoformat())).status_code == 302
    assert Card.objects.get().customer.birth_date == oldest


def test_the_optional_fields_may_be_left_empty(client, program):
    response = client.post(URL, form(phone="", birth_date=""))

    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.phone, customer.birth_date, customer.marketing_consent) == ("", None, False)


def test_errors_are_shown_in_the_pages_language(client, program):
    response = client.post("/de/enroll/alice-bakery/", form(first_name="", email="x"))

    assert field_errors(response) == {
        "first_name": "Fehler: Geben Sie Ihren Vornamen ein.",
        "email": "Fehler: Geben Sie eine E-Mail-Adresse wie name@beispiel.de ein.",
    }


def test_an_address_with_a_card_is_told_so_without_card_details_and_gets_its_link_by_email(
    client, program, store
):
    existing = CardFactory(
        program=program,
        enrolled_store=store,
        customer=CustomerFactory(
            merchant=program.merchant, email="nina@example.com", first_name="Nina", locale="de"
        ),
    )

    response = client.post(URL, form(email="NINA@example.com", first_name="Other"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>You already have a card</h1>" in html
    assert "NINA@example.com" in html
    assert existing.number not in html and card_numbers.display(existing.number) not in html
    assert "/card/" not in html.replace('href="/fr/card/lost/"', "").replace(
        'href="/en/card/lost/"', ""
    )
    assert Card.objects.get() == existing  # never a second card
    assert Customer.objects.get().first_name == "Nina"  # nor changed details
    email = OutgoingEmail.objects.get()
    assert (email.template, email.to, email.customer_id) == (
        emails.ALREADY_ENROLLED,
        "nina@example.com",
        existing.customer_id,
    )
    assert email.locale == "de" and email.is_marketing is False
    assert card_links.card_from_token(token_of(email.context["card_url"])) == existing


def test_an_address_gets_at_most_three_link_emails_an_hour_and_the_same_answer(
    client, program, store
):
    CardFactory(
        program=program,
        enrolled_store=store,
        customer=CustomerFactory(merchant=program.merchant, email="nina@example.com"),
    )

    with time_machine.travel(NOW, tick=False):
        answers = [client.post(URL, form(email="nina@example.com")) for _ in range(4)]

    assert [answer.status_code for answer in answers] == [200] * 4
    assert len({main_of(answer) for answer in answers}) == 1
    assert OutgoingEmail.objects.count() == 3


def test_another_merchants_card_does_not_count_as_enrolled(client, program):
    rival = ProgramFactory(merchant=MerchantFactory(slug="bob-books"))
    CardFactory(
        program=rival, customer=CustomerFactory(merchant=rival.merchant, email="nina@example.com")
    )

    assert client.post(URL, form(email="nina@example.com")).status_code == 302
    assert Card.objects.filter(program=program).count() == 1


def test_the_eleventh_enrolment_in_a_minute_from_one_address_gets_the_friendly_429(client, program):
    with time_machine.travel(NOW, tick=False):
        answers = [client.post(URL, form(email=f"n{i}@example.com")) for i in range(11)]
        # Another client address is counted apart.
        other = client.post(URL, form(email="n11@example.com"), REMOTE_ADDR="192.0.2.9")

    assert [answer.status_code for answer in answers] == [302] * 10 + [429]
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "<h1>Too many attempts</h1>" in refused.content.decode()
    assert other.status_code == 302
    assert Card.objects.count() == 11


def test_the_rate_limit_counts_the_client_behind_the_trusted_proxy(client, program, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    with time_machine.travel(NOW, tick=False):
        for i in range(10):
            client.post(URL, form(email=f"n{i}@example.com"), HTTP_X_FORWARDED_FOR="198.51.100.1")
        same = client.post(URL, form(email="x@example.com"), HTTP_X_FORWARDED_FOR="198.51.100.1")
        other = client.post(URL, form(email="y@example.com"), HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert (same.status_code, other.status_code) == (429, 302)


def test_a_post_without_the_csrf_token_is_refused_with_a_friendly_page(program):
    client = Client(enforce_csrf_checks=True)

    response = client.post(URL, form())

    assert response.status_code == 403
    assert "<h1>The form has expired</h1>" in response.content.decode()
    assert not Card.objects.exists()


def test_the_form_works_with_its_csrf_token(program):
    client = Client(enforce_csrf_checks=True)
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', client.get(URL).content.decode()
    ).group(1)

    assert client.post(URL, {**form(), "csrfmiddlewaretoken": token}).status_code == 302


def test_the_success_page_without_a_fresh_enrolment_goes_back_to_the_form(client, program):
    response = client.get("/enroll/alice-bakery/welcome/")

    assert response.status_code == 302
    assert response["Location"] == "/en/enroll/alice-bakery/"


def test_the_success_page_shows_only_the_card_of_its_own_merchant(client, program):
    client.post(URL, form())
    MerchantFactory(slug="bob-books")

    assert client.get("/enroll/bob-books/welcome/").status_code == 302


@pytest.mark.parametrize("wallet_on", [False, True], ids=["wallet off", "wallet on"])
def test_the_wallet_button_shows_only_when_the_wallet_is_configured(
    client, program, request, wallet_on
):
    if wallet_on:
        request.getfixturevalue("google_wallet")

    success = client.post(URL, form(), follow=True).content.decode()
    card_path = re.search(r'href="(/card/[^"/]+/)"', success).group(1)
    card_page = client.get(card_path).content.decode()

    for page in (success, card_page):
        button = re.search(r'href="(/card/[^"/]+/wallet/)"', page)
        assert (button is not None) is wallet_on
