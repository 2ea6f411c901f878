"""The landing page, the error pages (debug off, as in the test settings), the languages of
the pages, the merchant's branding, and static files with hashed names."""

import datetime
import re

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from loyalty import card_links
from loyalty.services import ledger
from merchants.branding import AA_CONTRAST, WHITE, brand_colors, contrast, ink_on_white, text_on
from merchants.models import Merchant
from tests.factories import CardFactory, CustomerFactory, UserFactory
from tests.test_settings_and_demo import PRODUCTION_LIKE, manage_py

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    main = re.search(r"<main.*</main>", response.content.decode(), re.S).group(0)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def test_the_landing_page_says_what_this_is_and_links_staff_to_the_admin(client):
    response = client.get("/")

    assert response.status_code == 200
    text = text_of(response)
    assert "Loyalty cards for the shops you love" in text
    assert "Loyalty cards runs the loyalty programmes of local shops" in text
    html = response.content.decode()
    assert 'href="/admin/"' in html
    assert 'href="/en/card/lost/"' in html
    assert '<a class="skip-link" href="#main">' in html


def test_the_landing_page_uses_the_site_name(client, settings):
    settings.SITE_NAME = "Lux Loyalty"

    assert "Lux Loyalty runs the loyalty programmes" in text_of(client.get("/"))


@pytest.mark.parametrize(
    ("path", "header", "language", "heading"),
    [
        ("/", "", "en", "Loyalty cards for the shops you love"),
        ("/", "fr-LU,fr;q=0.9", "fr", "Des cartes de fidélité pour les commerces que vous aimez"),
        ("/", "de-DE", "de", "Treuekarten für die Geschäfte, die Sie lieben"),
        ("/", "lb", "lb", "Treiekaarte fir d'Geschäfter, déi Dir gär hutt"),
        ("/", "it,es;q=0.5", "en", "Loyalty cards for the shops you love"),
        ("/de/", "fr", "de", "Treuekarten für die Geschäfte, die Sie lieben"),
        ("/lb/", "", "lb", "Treiekaarte fir d'Geschäfter, déi Dir gär hutt"),
        ("/en/", "fr", "en", "Loyalty cards for the shops you love"),
    ],
)
def test_a_page_speaks_its_url_prefix_else_the_browsers_language(
    client, path, header, language, heading
):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=header)

    assert response["Content-Language"] == language
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert heading in text_of(response).replace("&#x27;", "'")
    if path == "/":
        assert "Accept-Language" in response["Vary"]


def test_the_language_switcher_links_to_the_same_page_in_each_language(client, program, store):
    html = client.get("/fr/enroll/alice-bakery/?store=main").content.decode()

    links = re.findall(
        r'<a href="([^"]+)" lang="(\w+)" hreflang="\w+"( aria-current="true")?', html
    )
    assert links == [
        ("/en/enroll/alice-bakery/?store=main", "en", ""),
        ("/fr/enroll/alice-bakery/?store=main", "fr", ' aria-current="true"'),
        ("/de/enroll/alice-bakery/?store=main", "de", ""),
        ("/lb/enroll/alice-bakery/?store=main", "lb", ""),
    ]


def test_the_admin_and_the_api_keep_english_whatever_the_browser(client):
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="fr")

    assert "Log in" in response.content.decode()


@pytest.fixture
def busy_card(program, store):
    program.points_expiration_days = 30
    program.save()
    card = CardFactory(
        program=program,
        enrolled_store=store,
        customer=CustomerFactory(merchant=program.merchant, locale="de"),
    )
    with time_machine.travel(datetime.datetime(2027, 4, 1, 10, tzinfo=datetime.UTC)):
        ledger.earn_points(card=card, store=store, points=1250)
    return card


@pytest.mark.parametrize(
    ("prefix", "language", "balance", "expiry", "day"),
    [
        ("", "de", "Punkte 1.250", "Ihre 1.250 Punkte verfallen am 1. Mai 2027.", "01.04.2027"),
        ("/en", "en", "Points 1,250", "Your 1,250 points expire on May 1, 2027.", "Apr 1, 2027"),
        ("/fr", "fr", "Points 1 250", "Vos 1 250 points expirent le 1 mai 2027.", "1 avr. 2027"),
        ("/lb", "lb", "Punkten 1.250", "Är 1.250 Punkte verfalen den 1. Mee 2027.", "1. Abr. 2027"),
    ],
)
def test_the_card_page_speaks_the_customers_language_and_writes_its_dates_and_numbers(
    client, busy_card, prefix, language, balance, expiry, day
):
    path = prefix + card_links.card_path(busy_card.link_key)
    with time_machine.travel(datetime.datetime(2027, 4, 20, 10, tzinfo=datetime.UTC)):
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="fr")

    assert response["Content-Language"] == language
    text = text_of(response).replace("\u202f", " ").replace("\xa0", " ")
    assert balance in text
    assert expiry in text
    assert day in text


def test_an_unknown_address_gets_the_friendly_404_in_the_browsers_language(client):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 404
    assert '<html lang="de">' in response.content.decode()
    assert "Seite nicht gefunden" in text_of(response)


def test_the_404_under_a_language_prefix_speaks_that_language(client):
    response = client.get("/fr/card/lost/nothing/")

    assert response.status_code == 404
    assert "Page introuvable" in text_of(response)


def test_a_failing_page_gets_the_friendly_500_in_four_languages(settings):
    settings.ROOT_URLCONF = "tests.urls_failing"
    client = Client(raise_request_exception=False)

    response = client.get("/fail/")

    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    for language in ("fr", "de", "lb"):
        assert f'<div lang="{language}">' in html
    assert "Traceback" not in html and "RuntimeError" not in html


# Branding.


def test_a_page_carries_the_merchants_colours_with_the_policys_nonce(client, program, store):
    merchant = program.merchant
    merchant.brand_color = "#fde047"  # a light yellow: black text on it
    merchant.save()

    response = client.get("/enroll/alice-bakery/")

    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    assert (
        f'<style nonce="{nonce}">:root {{ --brand: #fde047; --on-brand: #000000; '
        f"--brand-ink: {ink_on_white('#fde047')}; }}</style>"
    ) in html
    assert "Alice&#x27;s Bakery" in html


@given(st.integers(min_value=0, max_value=0xFFFFFF))
def test_text_on_any_brand_colour_and_links_in_it_reach_aa_contrast(value):
    color = f"#{value:06x}"

    assert contrast(color, text_on(color)) >= AA_CONTRAST
    assert contrast(ink_on_white(color), WHITE) >= AA_CONTRAST
    assert set(brand_colors(color)) == {"brand", "on_brand", "brand_ink"}


def test_the_logo_is_served_with_its_type_and_a_validator(client, merchant):
    merchant.logo, merchant.logo_type = PNG, "image/png"
    merchant.save()

    response = client.get("/brand/alice-bakery/logo/")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content == PNG
    assert response["Cache-Control"] == "public, max-age=3600"
    again = client.get("/brand/alice-bakery/logo/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_merchant_without_a_logo_shows_its_name_alone(client, merchant, program, store):
    assert client.get("/brand/alice-bakery/logo/").status_code == 404
    assert "site-header__logo" not in client.get("/enroll/alice-bakery/").content.decode()

    merchant.logo, merchant.logo_type = PNG, "image/png"
    merchant.save()
    html = client.get("/enroll/alice-bakery/").content.decode()
    assert '<img class="site-header__logo" src="/brand/alice-bakery/logo/" alt="">' in html


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def merchant_form(merchant, **changes):
    data = {
        "name": merchant.name,
        "slug": merchant.slug,
        "timezone": merchant.timezone,
        "default_locale": merchant.default_locale,
        "brand_color": "#0f766e",
        "stores-TOTAL_FORMS": "0",
        "stores-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def upload(name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def test_an_operator_sets_the_colour_and_uploads_a_logo(operator_client, merchant):
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"

    response = operator_client.post(url, merchant_form(merchant, logo_file=upload("l.png", PNG)))

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert (merchant.brand_color, bytes(merchant.logo), merchant.logo_type) == (
        "#0f766e",
        PNG,
        "image/png",
    )
    operator_client.post(url, merchant_form(merchant, remove_logo="on"))
    merchant.refresh_from_db()
    assert (bytes(merchant.logo), merchant.logo_type) == (b"", "")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("l.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "must be a PNG, JPEG or WebP"),
        ("l.png", PNG + b"\x00" * 200 * 1024, "at most 200"),
    ],
)
def test_a_logo_that_is_not_a_small_image_is_refused(
    operator_client, merchant, name, data, message
):
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"

    response = operator_client.post(url, merchant_form(merchant, logo_file=upload(name, data)))

    assert response.status_code == 200
    assert message in response.content.decode()
    merchant.refresh_from_db()
    assert merchant.logo_type == ""


@pytest.mark.parametrize("color", ["blue", "#12345", "#1234567", "#gggggg"])
def test_a_brand_colour_must_be_hex(operator_client, merchant, color):
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"

    response = operator_client.post(url, merchant_form(merchant, brand_color=color))

    assert response.status_code == 200
    assert Merchant.objects.get().brand_color == "#1d4ed8"


# Static files.


def test_the_pages_assets_are_the_projects_own():
    assert finders.find("pages/pages.css") and finders.find("pages/pages.js")


def test_without_debug_static_files_are_served_by_whitenoise_under_hashed_names(tmp_path):
    collected = manage_py("collectstatic", "--no-input", "-v", "0", **PRODUCTION_LIKE)
    assert collected.returncode == 0, collected.stderr

    probe = """
from django.test import Client
import re
client = Client()
page = client.get("/", HTTP_HOST="loyalty.example.com", secure=True)
html = page.content.decode()
css = re.search(r'href="(/static/pages/pages\\.[0-9a-f]{12}\\.css)"', html).group(1)
asset = client.get(css, HTTP_HOST="loyalty.example.com", secure=True)
print(page.status_code, css, asset.status_code, asset["Cache-Control"])
"""
    served = manage_py(
        "shell", "-v", "0", "-c", probe, SQLITE_PATH=str(tmp_path / "db"), **PRODUCTION_LIKE
    )

    assert served.returncode == 0, served.stderr
    status, css, asset_status, cache_control = served.stdout.split(maxsplit=3)
    assert (status, asset_status) == ("200", "200")
    assert css.startswith("/static/pages/pages.")
    assert "immutable" in cache_control and "max-age=315360000" in cache_control


def test_production_settings_store_static_files_under_hashed_names():
    result = manage_py(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'])",
        **PRODUCTION_LIKE,
    )

    assert result.stdout.strip() == "whitenoise.storage.CompressedManifestStaticFilesStorage"
