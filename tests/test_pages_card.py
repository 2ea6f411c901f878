"""The card page (/card/<token>/) and the lost-link form (/card/lost/), through the test
client; the card links themselves (loyalty.card_links)."""

import datetime
import re

import pytest
import time_machine
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from loyalty import card_links, card_numbers, emails
from loyalty.models import Card, Program
from loyalty.services import ledger
from merchants.models import Merchant
from messaging.models import OutgoingEmail
from tests.factories import (
    CardFactory,
    CustomerFactory,
    MerchantFactory,
    ProgramFactory,
    RewardFactory,
    StoreFactory,
)
from tests.links import token_of

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 6, 10, 12, 0, 30, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def card(program, store):
    program.name = "Bread Club"
    program.reward_description = "A free loaf"
    program.save()
    return CardFactory(
        program=program,
        enrolled_store=store,
        customer=CustomerFactory(
            merchant=program.merchant, email="nina@example.com", first_name="Nina", locale="en"
        ),
    )


def path_of(card: Card) -> str:
    return card_links.card_path(card.link_key)


def text_of(response) -> str:
    main = re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


# The links.


def test_a_token_carries_the_random_link_key_not_the_card_id_or_number(card):
    token = card_links.card_token(card.link_key)

    assert card_links.card_from_token(token) == card
    key, _, _ = token.split(":")
    assert key == card.link_key.hex
    assert card.number not in token
    # Another card of the same programme has an unrelated key.
    other = CardFactory(program=card.program, enrolled_store=card.enrolled_store)
    assert other.link_key != card.link_key


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature
        lambda token: "0" + token[1:] if token[0] != "0" else "1" + token[1:],  # key
        lambda token: signing.Signer(salt="loyalty.card-link").sign("1"),  # an old id link
        lambda token: "not-a-token",
    ],
)
def test_a_tampered_or_foreign_token_leads_nowhere(card, tamper, client):
    token = tamper(card_links.card_token(card.link_key))

    assert card_links.card_from_token(token) is None
    response = client.get(f"/card/{token}/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_token_expires_after_the_configured_days(card, client, settings):
    settings.CARD_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(NOW, tick=False):
        path = path_of(card)
    with time_machine.travel(NOW + datetime.timedelta(days=30) - datetime.timedelta(seconds=1)):
        assert client.get(path).status_code == 200
    with time_machine.travel(NOW + datetime.timedelta(days=30, seconds=1)):
        expired = client.get(path)
    assert expired.status_code == 404
    # The friendly 404 tells how to get a new link.
    assert 'href="/en/card/lost/"' in expired.content.decode()


def test_a_token_signed_with_a_fallback_key_still_works(card, settings):
    settings.SECRET_KEY = "the-old-key-" + "x" * 40
    token = card_links.card_token(card.link_key)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the-new-key-" + "y" * 40

    assert card_links.card_from_token(token) == card


def test_a_trashed_card_or_an_anonymised_customer_has_no_page(card, client):
    path = path_of(card)
    card.customer.anonymized_at = timezone.now()
    card.customer.save()
    assert client.get(path).status_code == 404

    card.customer.anonymized_at = None
    card.customer.save()
    card.deleted_at = timezone.now()
    card.save()
    assert client.get(path).status_code == 404


# The page.


def test_the_card_page_shows_balances_stamps_rewards_and_recent_activity(card, store, client):
    ledger.earn_points(card=card, store=store, points=1250)
    ledger.add_stamps(card=card, store=store, count=3)
    RewardFactory(program=card.program, name="Croissant", points_cost=100)
    RewardFactory(program=card.program, name="Old reward", points_cost=5, is_active=False)

    response = client.get(path_of(card))

    assert response.status_code == 200
    text = text_of(response)
    assert "My Bread Club card" in text
    assert "Points 1,250" in text
    assert "Stamps 3 of 5" in text
    assert "Reward: A free loaf" in text
    assert "Croissant 100 points" in text and "Old reward" not in text
    assert card_numbers.display(card.number) in text
    assert "Stamp earned +3 stamps" in text
    assert "Points earned +1,250 points" in text
    html = response.content.decode()
    assert '<svg role="img" viewBox=' in html
    assert '<meta name="robots" content="noindex">' in html
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-store" in response["Cache-Control"]
    assert "expire" not in text


def test_the_card_page_lists_the_ten_latest_operations_newest_first(card, store, client):
    for points in range(1, 13):
        ledger.earn_points(card=card, store=store, points=points)

    text = text_of(client.get(path_of(card)))

    shown = [int(n) for n in re.findall(r"Points earned \+(\d+) points?", text)]
    assert shown == list(range(12, 2, -1))


def test_a_points_only_programme_shows_no_stamps(client, merchant, store):
    program = ProgramFactory(merchant=merchant, kind="points")
    card = CardFactory(program=program, enrolled_store=store)

    text = text_of(client.get(path_of(card)))

    assert "Points 0" in text and "Stamps" not in text
    assert "No activity yet." in text


def test_the_expiry_warning_shows_within_the_warning_window_only(card, store, client):
    program = card.program
    program.points_expiration_days = 365
    program.expiration_warning_days = 14
    program.save()
    with time_machine.travel(datetime.datetime(2026, 1, 10, 9, 0, tzinfo=datetime.UTC)):
        ledger.earn_points(card=card, store=store, points=120)
    path = path_of(card)

    # Expiry on 10 January 2027: the window opens on 27 December 2026.
    with time_machine.travel(datetime.datetime(2026, 12, 26, 9, 0, tzinfo=datetime.UTC)):
        before = text_of(client.get(path))
    with time_machine.travel(datetime.datetime(2026, 12, 28, 9, 0, tzinfo=datetime.UTC)):
        within = text_of(client.get(path))

    assert "expire" not in before
    assert (
        "Your 120 points expire on January 10, 2027. Any purchase with your card before then "
        "keeps them." in within
    )


def test_no_expiry_warning_without_points(card, client):
    card.program.points_expiration_days = 1
    card.program.save()
    card.last_activity_at = timezone.now() - datetime.timedelta(days=5)
    card.save()

    assert "expire" not in text_of(client.get(path_of(card)))


def test_an_inactive_card_says_so(card, client):
    card.is_active = False
    card.save()

    assert "This card is no longer active." in text_of(client.get(path_of(card)))


# The lost link.


def test_the_lost_link_form_sends_each_card_of_the_address_a_fresh_link(card, client):
    rival = ProgramFactory(merchant=MerchantFactory(slug="bob-books"))
    other = CardFactory(
        program=rival,
        enrolled_store=StoreFactory(merchant=rival.merchant),
        customer=CustomerFactory(merchant=rival.merchant, email="Nina@example.com", locale="fr"),
    )
    CardFactory()  # someone else's

    response = client.post("/card/lost/", {"email": "NINA@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/en/card/lost/?sent=1"
    sent = {email.to: email for email in OutgoingEmail.objects.all()}
    assert set(sent) == {"nina@example.com", "Nina@example.com"}
    assert {email.template for email in sent.values()} == {emails.CARD_LINK}
    assert sent["Nina@example.com"].locale == "fr"
    assert card_links.card_from_token(token_of(sent["nina@example.com"].context["card_url"])) == (
        card
    )
    assert card_links.card_from_token(token_of(sent["Nina@example.com"].context["card_url"])) == (
        other
    )
    page = client.get(response["Location"])
    assert "If this address has a card, we have sent it the link." in text_of(page)


def test_an_unknown_address_gets_the_same_answer_and_no_email(card, client):
    known = client.post("/card/lost/", {"email": "nina@example.com"})
    unknown = client.post("/card/lost/", {"email": "nobody@example.com"})

    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert OutgoingEmail.objects.count() == 1


def test_an_anonymised_customer_gets_no_link(card, client):
    card.customer.anonymized_at = timezone.now()
    card.customer.save()

    assert client.post("/card/lost/", {"email": "nina@example.com"}).status_code == 302
    assert not OutgoingEmail.objects.exists()


@pytest.mark.parametrize(
    ("email", "message"),
    [("", "Enter your email address."), ("nina", "Enter an email address like name@example.com.")],
)
def test_the_lost_link_form_refuses_a_missing_or_invalid_address(client, email, message):
    response = client.post("/card/lost/", {"email": email})

    assert response.status_code == 200
    assert f"Error: {message}" in text_of(response)
    assert 'aria-describedby="id_email_helptext id_email_error"' in response.content.decode()
    assert not OutgoingEmail.objects.exists()


def test_lost_link_requests_are_rate_limited_per_client_and_per_address(card, client):
    with time_machine.travel(NOW, tick=False):
        answers = [client.post("/card/lost/", {"email": "nina@example.com"}) for _ in range(6)]

    assert [answer.status_code for answer in answers] == [302] * 5 + [429]
    assert "<h1>Too many attempts</h1>" in answers[-1].content.decode()
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    # Five requests, but an address gets at most three link emails an hour.
    assert OutgoingEmail.objects.count() == 3


def test_the_lost_link_page_speaks_the_browsers_language(client):
    response = client.get("/card/lost/", HTTP_ACCEPT_LANGUAGE="lb,de;q=0.8")

    assert response["Content-Language"] == "lb"
    assert "De Link op meng Kaart kréien" in text_of(response)


# The link emails' service (loyalty.services.card_link_emails), on its own.


@pytest.mark.parametrize("cross_location", [True, False])
def test_the_already_enrolled_email_names_the_card_that_stopped_the_enrolment(
    program, store, other_store, cross_location
):
    from loyalty.services.card_link_emails import send_link_to_enrolled_customer

    program.allow_cross_location_redemption = cross_location
    program.save()
    customer = CustomerFactory(merchant=program.merchant, email="nina@example.com", locale="fr")
    first = CardFactory(program=program, enrolled_store=other_store, customer=customer)
    second = CardFactory(program=program, enrolled_store=store, customer=customer)

    card = send_link_to_enrolled_customer(program=program, store=store, email="NINA@Example.COM")

    # Any of the programme's stores counts when cards work across them, and then the oldest
    # card is named; otherwise only the store's own card.
    assert card == (first if cross_location else second)
    email = OutgoingEmail.objects.get()
    assert (email.template, email.to, email.customer_id, email.merchant_id, email.locale) == (
        emails.ALREADY_ENROLLED,
        "nina@example.com",
        customer.pk,
        program.merchant_id,
        "fr",
    )
    assert card_links.card_from_token(token_of(email.context["card_url"])) == card


def test_no_already_enrolled_email_without_a_card_of_that_programme_and_store(
    program, store, other_store, rival_merchant
):
    from loyalty.services.card_link_emails import send_link_to_enrolled_customer

    program.allow_cross_location_redemption = False
    program.save()
    customer = CustomerFactory(merchant=program.merchant, email="nina@example.com")
    CardFactory(program=program, enrolled_store=other_store, customer=customer)
    rival = rival_merchant["program"]
    CardFactory(
        program=rival,
        enrolled_store=rival_merchant["store"],
        customer=CustomerFactory(merchant=rival.merchant, email="eve@example.com"),
    )
    anonymised = CustomerFactory(
        merchant=program.merchant, email="old@example.com", anonymized_at=timezone.now()
    )
    CardFactory(program=program, enrolled_store=store, customer=anonymised)

    for email in ("nina@example.com", "eve@example.com", "old@example.com"):
        assert send_link_to_enrolled_customer(program=program, store=store, email=email) is None
    assert not OutgoingEmail.objects.exists()


def test_lost_links_go_to_live_cards_of_live_programmes_and_merchants_only(card):
    from loyalty.services.card_link_emails import send_lost_card_links
    from merchants import services

    customer = card.customer
    trashed_card = CardFactory(
        program=card.program,
        enrolled_store=StoreFactory(merchant=card.program.merchant),
        customer=customer,
    )
    services.trash(obj=trashed_card)

    def card_at_a_new_merchant():
        program = ProgramFactory(merchant=MerchantFactory())
        return CardFactory(
            program=program,
            enrolled_store=StoreFactory(merchant=program.merchant),
            customer=CustomerFactory(merchant=program.merchant, email="nina@example.com"),
        )

    live = card_at_a_new_merchant()
    # Trashed without their cascade, as before trashing cascaded: the cards stayed live.
    of_trashed_programme = card_at_a_new_merchant()
    Program.all_objects.filter(pk=of_trashed_programme.program_id).update(deleted_at=timezone.now())
    of_trashed_merchant = card_at_a_new_merchant()
    Merchant.all_objects.filter(pk=of_trashed_merchant.program.merchant_id).update(
        deleted_at=timezone.now()
    )

    assert send_lost_card_links(email=" Nina@EXAMPLE.com ") == 2

    sent = OutgoingEmail.objects.order_by("pk")
    assert [(e.template, e.to, e.merchant_id) for e in sent] == [
        (emails.CARD_LINK, "nina@example.com", card.program.merchant_id),
        (emails.CARD_LINK, "nina@example.com", live.program.merchant_id),
    ]
    assert [card_links.card_from_token(token_of(e.context["card_url"])) for e in sent] == [
        card,
        live,
    ]
    assert send_lost_card_links(email="nobody@example.com") == 0


def test_lost_links_go_to_at_most_ten_cards_the_oldest_first():
    from loyalty.services.card_link_emails import MAX_LOST_LINK_CARDS, send_lost_card_links

    cards = []
    for _ in range(MAX_LOST_LINK_CARDS + 1):
        program = ProgramFactory(merchant=MerchantFactory())
        cards.append(
            CardFactory(
                program=program,
                enrolled_store=StoreFactory(merchant=program.merchant),
                customer=CustomerFactory(merchant=program.merchant, email="nina@example.com"),
            )
        )

    assert send_lost_card_links(email="nina@example.com") == 10

    sent = OutgoingEmail.objects.order_by("pk")
    assert [card_links.card_from_token(token_of(e.context["card_url"])) for e in sent] == cards[:10]


def test_the_already_enrolled_email_never_names_a_card_of_another_programme(program, store):
    from loyalty.services.card_link_emails import send_link_to_enrolled_customer

    customer = CustomerFactory(merchant=program.merchant, email="nina@example.com")
    # A live card of the merchant's earlier programme, trashed before trashing cascaded.
    earlier = ProgramFactory(merchant=program.merchant, name="Earlier", deleted_at=timezone.now())
    CardFactory(program=earlier, enrolled_store=store, customer=customer)

    assert (
        send_link_to_enrolled_customer(program=program, store=store, email=customer.email) is None
    )
    assert not OutgoingEmail.objects.exists()
