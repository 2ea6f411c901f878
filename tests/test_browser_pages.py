"""The customer pages in a real browser (Debian's chromium, through Playwright): enrolment on
a phone-sized screen through to the card page, enrolment with the keyboard alone, axe-core on
every page (no serious or critical finding), no horizontal scrolling at 320 px, and
screenshots at 375 px and 1280 px in tests/artifacts/ (ignored by git).

axe-core's summary of each page (violations by impact, rules passed) is written to
tests/artifacts/axe-summary.json.
"""

import re

import pytest
from django.contrib.flatpages.models import FlatPage
from django.contrib.sites.models import Site

from loyalty import card_links
from loyalty.services import ledger
from tests.browser_support import check_page
from tests.factories import CardFactory, CustomerFactory, ProgramFactory, StoreFactory

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def shop(transactional_db):
    """A bakery with a branded points-and-stamps programme, its terms on a flat page. Made
    before the browser starts: Playwright runs an event loop in this thread, and Django
    refuses database queries while one runs."""
    store = StoreFactory(merchant__slug="demo-bakery", merchant__name="Demo Bakery", code="main")
    merchant = store.merchant
    merchant.brand_color = "#9a3412"
    merchant.save()
    page = FlatPage.objects.create(
        url="/bread-club-terms/", title="Bread Club terms", content="<p>One card each.</p>"
    )
    page.sites.add(Site.objects.get_current())
    return ProgramFactory(
        merchant=merchant,
        name="Bread Club",
        welcome_bonus_points=50,
        stamps_target=8,
        reward_description="A free loaf",
        terms_page="bread-club-terms",
    )


@pytest.fixture
def card_path(shop):
    """The card page of a customer with some history."""
    store = shop.merchant.stores.get()
    card = CardFactory(
        program=shop,
        enrolled_store=store,
        customer=CustomerFactory(merchant=shop.merchant, first_name="Ana", locale="en"),
    )
    ledger.earn_points(card=card, store=store, points=1280)
    ledger.add_stamps(card=card, store=store, count=5)
    return card_links.card_path(card.link_key)


@pytest.fixture
def phone(browser, live_server):
    from tests.browser_support import Visit

    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    yield Visit(context.new_page(), live_server.url)
    context.close()


def test_a_customer_enrols_on_a_phone_and_follows_the_link_to_the_card(shop, phone, axe_summaries):
    page = phone.page
    phone.open("/enroll/demo-bakery/")
    assert page.locator("h1").inner_text() == "Join Bread Club"
    check_page(phone, "enrolment", axe_summaries)

    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Muller")
    page.get_by_label("Email address").fill("nina@example.com")
    page.locator("#id_birth_date").fill("1990-04-17")
    page.get_by_label("Preferred language").select_option("en")
    page.get_by_text("Bread Club terms").click()
    assert page.get_by_text("One card each.").is_visible()
    page.get_by_label("I accept the programme's terms.").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Join and get my card").click()

    assert page.url.endswith("/en/enroll/demo-bakery/welcome/")
    assert page.locator("h1").inner_text() == "Welcome! Your card is ready"
    assert page.get_by_text("50 welcome points are already on your card.").is_visible()
    number = page.locator(".card-code__number strong").inner_text()
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", number)
    qr = page.get_by_role("img", name=f"QR code of card {number}")
    assert qr.is_visible() and qr.bounding_box()["width"] >= 150
    check_page(phone, "success", axe_summaries)

    with page.expect_navigation():
        page.get_by_role("link", name="Open my card's page").click()

    assert re.search(r"/card/[^/]+/$", page.url)
    assert page.locator("h1").inner_text() == "My Bread Club card"
    assert page.locator(".balance__figure").first.inner_text() == "50"
    assert page.locator(".card-code__number strong").inner_text() == number
    assert "Welcome bonus" in page.locator(".activity").inner_text()
    check_page(phone, "card-new", axe_summaries, screenshot=False)


def test_a_customer_enrols_with_the_keyboard_alone(shop, phone, axe_summaries):
    page = phone.page
    phone.open("/fr/enroll/demo-bakery/")

    def focused() -> str:
        return page.evaluate("document.activeElement.id || document.activeElement.className")

    def focus_is_visible() -> bool:
        return page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    def tab_to(target: str) -> None:
        """Press Tab until `target` has the focus: the page's own order, nothing skipped."""
        for _ in range(20):
            if focused() == target:
                return
            page.keyboard.press("Tab")
        pytest.fail(f"Tab never reached {target}; stopped at {focused()}")

    # The skip link comes first, shows when focused, and leads to the content.
    page.keyboard.press("Tab")
    assert focused() == "skip-link" and focus_is_visible()
    assert page.locator(".skip-link").bounding_box()["y"] >= 0
    page.keyboard.press("Enter")
    assert focused() == "main"

    # Sending the empty form moves the focus to the summary of errors.
    page.keyboard.press("Tab")
    assert focused() == "id_first_name" and focus_is_visible()
    tab_to("button button--primary")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert focused() == "error-summary"
    assert "Veuillez corriger les points suivants" in page.locator(".error-summary").inner_text()
    check_page(phone, "enrolment-errors", axe_summaries)

    # From the summary, each error's link leads to its field.
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused() == "id_first_name"
    page.keyboard.type("Luc")
    page.keyboard.press("Tab")
    page.keyboard.type("Weber")
    page.keyboard.press("Tab")
    page.keyboard.type("luc@example.com")
    tab_to("id_marketing_consent")
    assert focus_is_visible()
    page.keyboard.press("Tab")  # the terms' summary
    page.keyboard.press("Enter")  # opens them
    assert page.get_by_text("One card each.").is_visible()
    tab_to("id_accept_terms")
    page.keyboard.press("Space")
    assert page.locator("#id_accept_terms").is_checked()
    page.keyboard.press("Tab")
    assert focused() == "button button--primary" and focus_is_visible()
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url.endswith("/fr/enroll/demo-bakery/welcome/")
    assert page.locator("h1").inner_text() == "Bienvenue ! Votre carte est prête"


def test_the_card_page_is_accessible_in_each_language(card_path, phone, axe_summaries):
    phone.open(card_path)
    assert phone.page.locator("h1").inner_text() == "My Bread Club card"
    assert phone.page.locator(".balance__figure").first.inner_text() == "1,280"
    check_page(phone, "card", axe_summaries)

    for language in ("fr", "de", "lb"):
        phone.open(f"/{language}{card_path}")
        assert phone.page.locator("html").get_attribute("lang") == language
        check_page(phone, f"card-{language}", axe_summaries, screenshot=False)


def test_the_landing_lost_link_and_error_pages_are_accessible(shop, visit, axe_summaries):
    page = visit.page
    visit.open("/")
    assert page.locator("h1").inner_text() == "Loyalty cards for the shops you love"
    check_page(visit, "landing", axe_summaries)

    with page.expect_navigation():
        page.get_by_role("link", name="Get the link to my card").click()
    assert page.locator("h1").inner_text() == "Get the link to my card"
    check_page(visit, "lost-link", axe_summaries)

    page.get_by_label("Email address").fill("nobody@example.com")
    with page.expect_navigation():
        page.get_by_role("button", name="Email me the link").click()
    assert "If this address has a card" in page.locator("main").inner_text()
    check_page(visit, "lost-link-sent", axe_summaries)

    response = page.goto(visit.origin + "/no-such-page/")
    assert response.status == 404
    check_page(visit, "not-found", axe_summaries)
