"""The counter tablet in a real browser (Debian's chromium, through Playwright), against the
real terminal API of a live server: pairing with a code, enrolment, finding a card by typing
and by a scanner, earn, redeem, stamps, void, wrong and locked PINs, a revoked key, answers of
the API as sentences, a connection cut during an earn (the ledger gets it exactly once), and
axe-core with screenshots at 768 px and 375 px in tests/artifacts/.
"""

import re

import pytest
from playwright.sync_api import expect

from loyalty import card_numbers
from loyalty.api.authentication import forget_cached_keys
from loyalty.models import Card, Transaction, TransactionType
from loyalty.services import ledger, pairing
from tests.browser_support import PHONE, TABLET, Visit, check_page
from tests.factories import (
    CardFactory,
    CustomerFactory,
    ProgramFactory,
    RewardFactory,
    StaffPinFactory,
    StoreFactory,
    TerminalKeyFactory,
)

pytestmark = pytest.mark.browser

SIZES = (TABLET, PHONE)
STAFF_PIN = "1234"
PAIRING_KEY = "loyalty.counter.pairing"


@pytest.fixture
def bakery(transactional_db, monkeypatch):
    """A bakery's `main` store with a points-and-stamps programme that requires PINs, a
    reward, a staff PIN, and Ana's card with 100 points. The test reads the database while
    Playwright's event loop runs in this thread: Django allows it here (the browser does not
    touch this connection; the live server has its own thread)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    store = StoreFactory(
        merchant__slug="demo-bakery", merchant__name="Demo Bakery", code="main", name="Town centre"
    )
    program = ProgramFactory(
        merchant=store.merchant,
        name="Bread Club",
        require_staff_pin=True,
        welcome_bonus_points=50,
        stamps_target=3,
    )
    RewardFactory(program=program, name="Croissant", points_cost=30)
    StaffPinFactory(store=store, staff_name="Sam", pin=STAFF_PIN)
    card = CardFactory(
        program=program,
        enrolled_store=store,
        customer=CustomerFactory(merchant=store.merchant, first_name="Ana"),
    )
    ledger.earn_points(card=card, store=store, points=100)
    return {"store": store, "program": program, "card": card}


@pytest.fixture
def tablet(browser, live_server):
    context = browser.new_context(viewport=TABLET)
    yield Visit(context.new_page(), live_server.url)
    context.close()


def pair_by_key(visit, store, language=""):
    """A tablet already paired (the pairing itself is tested on its own)."""
    terminal_key = TerminalKeyFactory(store=store, name="Counter tablet")
    visit.open(f"{language}/counter/pair/")
    visit.page.evaluate(
        "([name, value]) => localStorage.setItem(name, JSON.stringify(value))",
        [
            PAIRING_KEY,
            {
                "key": terminal_key.secret,
                "merchant": store.merchant.name,
                "store": store.code,
                "store_name": store.name,
            },
        ],
    )
    visit.open(f"{language}/counter/")
    return terminal_key


def find_card(page, number):
    page.get_by_label("Card number").fill(number)
    page.get_by_role("button", name="Find the card").click()
    page.locator("#card").wait_for(state="visible")


def confirm_with_pin(page, pin=STAFF_PIN):
    dialog = page.get_by_role("dialog")
    dialog.wait_for(state="visible")
    dialog.get_by_label("Your staff PIN").fill(pin)
    dialog.get_by_role("button", name="Confirm").click()


def wait_for_status(page, text):
    page.locator("#status").filter(has_text=text).wait_for(state="visible")


def ledger_rows(card):
    return list(Transaction.objects.filter(card=card).order_by("id"))


def test_a_tablet_pairs_with_a_code_and_works_a_card(bakery, tablet, axe_summaries):
    page = tablet.page
    store, card = bakery["store"], bakery["card"]
    _, code = pairing.create_pairing_code(store=store, terminal_name="Front tablet")

    # Unpaired, the counter sends the tablet to the pairing page, in the same language.
    page.goto(tablet.origin + "/counter/")
    page.wait_for_url(tablet.origin + "/en/counter/pair/")
    assert page.locator("h1").inner_text() == "Pair this tablet"
    check_page(tablet, "counter-pair", axe_summaries, viewports=SIZES)

    # A code already used is refused in a sentence, and the field says so.
    _, used = pairing.create_pairing_code(store=store, terminal_name="Old tablet")
    pairing.redeem_pairing_code(code=used)
    page.get_by_label("Pairing code").fill(used)
    page.get_by_role("button", name="Pair this tablet").click()
    page.locator("#pairing-code-error").filter(has_text="already been used").wait_for()
    assert page.get_by_label("Pairing code").get_attribute("aria-invalid") == "true"
    assert page.evaluate(f"localStorage.getItem('{PAIRING_KEY}')") is None

    page.get_by_label("Pairing code").fill(f"{code[:4].lower()}-{code[4:]}")
    with page.expect_navigation():
        page.get_by_role("button", name="Pair this tablet").click()
    assert page.url == tablet.origin + "/en/counter/"
    assert page.locator("#terminal-name").inner_text() == "Paired with Demo Bakery, Town centre."
    key = page.evaluate(f"JSON.parse(localStorage.getItem('{PAIRING_KEY}')).key")
    terminal_key = store.terminal_keys.get(name="Front tablet")
    assert terminal_key.name == "Front tablet" and key.startswith(terminal_key.prefix + ".")

    # Enrol a new customer.
    page.get_by_role("button", name="Enrol a new customer").click()
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Muller")
    page.get_by_label("Email address").fill("nina@example.com")
    page.get_by_label("The customer has accepted the programme's terms.").check()
    page.get_by_role("button", name="Enrol", exact=True).click()
    confirm_with_pin(page)
    wait_for_status(page, "is ready for Nina. Welcome bonus: 50 points.")
    nina = Card.objects.get(customer__email="nina@example.com")
    assert page.locator("#card-title").inner_text() == (f"Card {card_numbers.display(nina.number)}")
    assert page.locator("#points-balance").inner_text() == "50"
    assert [row.type for row in ledger_rows(nina)] == [TransactionType.WELCOME_BONUS]

    # Find Ana's card: a mistyped digit is caught by the check digit, without a request.
    page.get_by_role("button", name="Next customer").click()
    typo = card.number[:-1] + str((int(card.number[-1]) + 1) % 10)
    before = len(tablet.requests)
    page.get_by_label("Card number").fill(typo)
    page.get_by_role("button", name="Find the card").click()
    error = page.locator("#card-number-error")
    assert "not a card number" in error.inner_text()
    assert page.get_by_label("Card number").get_attribute("aria-invalid") == "true"
    assert len(tablet.requests) == before
    find_card(page, card_numbers.display(card.number))
    assert page.locator("#card-customer").inner_text() == "Ana"
    assert page.locator("#points-balance").inner_text() == "100"
    page.locator("#activity").filter(has_text="Points earned").wait_for()
    check_page(tablet, "counter-card", axe_summaries, viewports=SIZES)

    # Earn for a purchase of 24.90.
    page.get_by_label("Amount of the purchase (€)").fill("24,90")
    page.get_by_label("Receipt number").fill("R-1001")
    page.get_by_role("button", name="Earn", exact=True).click()
    dialog = page.get_by_role("dialog")
    assert "Earn points for a purchase of €24.90" in dialog.inner_text()
    pin = dialog.get_by_label("Your staff PIN")
    assert (pin.get_attribute("inputmode"), pin.get_attribute("autocomplete")) == (
        "numeric",
        "one-time-code",
    )
    assert page.locator("#pin-error").get_attribute("aria-live") == "assertive"
    check_page(tablet, "counter-pin", axe_summaries, screenshot=False)
    confirm_with_pin(page)
    wait_for_status(page, "Done: +24 points. New balance: 124.")
    assert page.locator("#points-balance").inner_text() == "124"
    earned = ledger_rows(card)[-1]
    assert (earned.type, earned.points_delta, earned.purchase_amount_cents) == (
        TransactionType.POINTS_EARNED,
        24,
        2490,
    )
    assert earned.order_reference == "R-1001"

    # Redeem the catalogue's croissant.
    page.get_by_label("Reward").select_option(label="Croissant (30)")
    page.get_by_role("button", name="Redeem", exact=True).click()
    confirm_with_pin(page)
    wait_for_status(page, "Done: -30 points. New balance: 94.")
    redeemed = ledger_rows(card)[-1]
    assert (redeemed.type, redeemed.points_delta) == (TransactionType.POINTS_REDEEMED, -30)

    # Stamps: 2, then 1 more reaches the target, then the reward.
    page.get_by_label("Stamps to add").fill("2")
    page.get_by_role("button", name="Add stamps").click()
    confirm_with_pin(page)
    wait_for_status(page, "Done: 2 of 3 stamps.")
    assert page.get_by_role("button", name="Give the stamp reward").is_disabled()
    page.get_by_label("Stamps to add").fill("1")
    page.get_by_role("button", name="Add stamps").click()
    confirm_with_pin(page)
    wait_for_status(page, "Done: 3 of 3 stamps.")
    assert page.get_by_text("The stamp reward is ready.").is_visible()
    page.get_by_role("button", name="Give the stamp reward").click()
    confirm_with_pin(page)
    wait_for_status(page, "Done: 0 of 3 stamps.")
    card.refresh_from_db()
    assert (card.points_balance, card.stamp_count) == (94, 0)

    # Void the redemption: its points come back.
    page.get_by_role("button", name=re.compile(r"^Cancel “Points redeemed”")).click()
    confirm_with_pin(page)
    wait_for_status(page, "Cancelled. New balance: 124 points, 0 stamps.")
    reversal = ledger_rows(card)[-1]
    assert (reversal.type, reversal.points_delta, reversal.voids_id) == (
        TransactionType.POINTS_VOIDED,
        30,
        redeemed.pk,
    )
    page.locator("#activity").filter(has_text="cancelled").wait_for()
    tablet.assert_no_csp_violation()
    tablet.assert_same_origin_only()


def test_the_pairing_page_says_when_to_try_again_after_too_many_codes(bakery, tablet, settings):
    settings.PAGE_RATE_LIMITS = {**settings.PAGE_RATE_LIMITS, "pair": "1/h"}
    page = tablet.page
    tablet.open("/fr/counter/pair/")
    error = page.locator("#pairing-code-error")
    for expected in ("Ce code d'association n'existe pas.", "Trop de codes essayés"):
        page.get_by_label("Code d'association").fill("ZZZZ-ZZZZ")
        page.get_by_role("button", name="Associer cette tablette").click()
        error.filter(has_text=expected).wait_for()
    assert re.search(r"attendez \d+ s", error.inner_text())


def test_a_scanner_finds_the_card_from_the_field_or_from_anywhere_on_the_page(bakery, tablet):
    page = tablet.page
    card = bakery["card"]
    pair_by_key(tablet, bakery["store"])

    # The number field has the focus when the counter opens: a scanner types into it.
    assert page.evaluate("document.activeElement.id") == "card-number"
    page.keyboard.type(card.number, delay=5)
    page.keyboard.press("Enter")
    page.locator("#card").wait_for(state="visible")
    assert page.locator("#card-customer").inner_text() == "Ana"

    # On the card screen, with no field focused, a scan opens the scanned card.
    other = CardFactory(
        program=bakery["program"],
        enrolled_store=bakery["store"],
        customer=CustomerFactory(merchant=bakery["store"].merchant, first_name="Luc"),
    )
    page.locator("#card-title").click()
    page.keyboard.type(other.number, delay=5)
    page.keyboard.press("Enter")
    page.locator("#card-customer").filter(has_text="Luc").wait_for()
    assert page.locator("#card-title").inner_text() == f"Card {card_numbers.display(other.number)}"


def test_the_counter_works_with_the_keyboard_alone(bakery, tablet):
    page = tablet.page
    card = bakery["card"]
    pair_by_key(tablet, bakery["store"])

    def focused() -> str:
        return page.evaluate("document.activeElement.id")

    def tab_to(target: str) -> None:
        for _ in range(30):
            if focused() == target:
                return
            page.keyboard.press("Tab")
        pytest.fail(f"Tab never reached {target}; stopped at {focused()}")

    assert focused() == "card-number"
    page.keyboard.type(card.number)
    page.keyboard.press("Enter")
    page.locator("#card").wait_for(state="visible")
    assert focused() == "card"
    tab_to("earn-amount")
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    assert focused() == "staff-pin"
    page.keyboard.type(STAFF_PIN)
    page.keyboard.press("Enter")
    wait_for_status(page, "Done: +5 points. New balance: 105.")
    # Escape closes the dialog without sending anything.
    tab_to("stamps-count")
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog").is_visible()
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").is_hidden()
    assert [row.points_delta for row in ledger_rows(card)] == [100, 5]


def test_wrong_pins_read_as_sentences_and_the_fifth_locks_pin_entry(bakery, tablet):
    page = tablet.page
    card = bakery["card"]
    pair_by_key(tablet, bakery["store"])
    find_card(page, card.number)

    def answer_to(pin) -> str:
        with page.expect_response("**/points/earn/"):
            confirm_with_pin(page, pin)
        # The answer is shown once the script has read it.
        expect(page.locator("#confirm-submit")).to_be_enabled()
        return error.inner_text()

    page.get_by_label("Amount of the purchase (€)").fill("10")
    page.get_by_role("button", name="Earn", exact=True).click()
    error = page.locator("#pin-error")
    assert answer_to("0000") == "That PIN is not right. Check it and try again."
    # The dialog stays open, the PIN field emptied and focused for another try.
    assert page.get_by_role("dialog").is_visible()
    assert page.evaluate("document.activeElement.id") == "staff-pin"
    assert page.get_by_label("Your staff PIN").input_value() == ""
    for _ in range(3):
        assert answer_to("0000").startswith("That PIN is not right.")
    locked = "Too many wrong PINs: PIN entry at this tablet is locked for 15 minutes."
    assert answer_to("0000") == locked
    # Even the right PIN is refused now.
    assert answer_to(STAFF_PIN) == locked
    assert [row.type for row in ledger_rows(card)] == [TransactionType.POINTS_EARNED]
    # Nothing is left waiting: a refusal is a final answer.
    assert page.evaluate("localStorage.getItem('loyalty.counter.outbox')") == "[]"


def test_an_earn_during_a_network_cut_is_kept_and_recorded_exactly_once(bakery, tablet):
    page = tablet.page
    card = bakery["card"]
    pair_by_key(tablet, bakery["store"])
    find_card(page, card.number)
    keys = []
    page.on(
        "request",
        lambda request: (
            "/points/earn/" in request.url and keys.append(request.headers.get("idempotency-key"))
        ),
    )

    page.get_by_label("Amount of the purchase (€)").fill("12.00")
    page.get_by_role("button", name="Earn", exact=True).click()
    page.get_by_role("dialog").get_by_label("Your staff PIN").fill(STAFF_PIN)
    page.context.set_offline(True)
    page.get_by_role("dialog").get_by_role("button", name="Confirm").click()

    pending = page.locator("#pending")
    pending.wait_for(state="visible")
    assert "Earn points for a purchase of €12.00" in pending.inner_text()
    assert "No connection: the operation is kept" in page.locator("#alert").inner_text()
    assert len(ledger_rows(card)) == 1  # only the opening 100 points

    page.context.set_offline(False)
    wait_for_status(page, "Sent after the connection returned")
    pending.wait_for(state="hidden")
    earns = [row for row in ledger_rows(card) if row.purchase_amount_cents == 1200]
    assert len(earns) == 1 and earns[0].points_delta == 12
    assert len(set(keys)) == 1 and keys[0]
    page.locator("#points-balance").filter(has_text="112").wait_for()
    assert page.evaluate("localStorage.getItem('loyalty.counter.outbox')") == "[]"


def test_an_earn_whose_answer_is_lost_is_sent_again_and_recorded_once(bakery, tablet):
    """The request reaches the server and commits, but the answer never comes back: the page
    cannot know, keeps the earn, sends it again with the same key, and the server replays."""
    page = tablet.page
    card = bakery["card"]
    pair_by_key(tablet, bakery["store"])
    find_card(page, card.number)
    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server does the work...
            route.abort("connectionreset")  # ...and the answer is lost on the way
        else:
            route.continue_()

    page.route("**/points/earn/", lose_the_first_answer)
    page.get_by_label("Amount of the purchase (€)").fill("7")
    page.get_by_role("button", name="Earn", exact=True).click()
    confirm_with_pin(page)
    page.locator("#pending").wait_for(state="visible")
    assert len([row for row in ledger_rows(card) if row.purchase_amount_cents == 700]) == 1

    # The next try (every 5 s, or when the browser says it is back online) replays.
    wait_for_status(page, "Sent after the connection returned")
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len([row for row in ledger_rows(card) if row.purchase_amount_cents == 700]) == 1
    card.refresh_from_db()
    assert card.points_balance == 107


def test_a_revoked_key_stops_the_page(bakery, tablet):
    page = tablet.page
    card = bakery["card"]
    terminal_key = pair_by_key(tablet, bakery["store"])
    find_card(page, card.number)

    terminal_key.revoked = True
    terminal_key.save()
    forget_cached_keys()  # each process keeps a key 10 s; this one, the live server's, now
    page.get_by_role("button", name="Next customer").click()
    page.get_by_label("Card number").fill(card.number)
    page.get_by_role("button", name="Find the card").click()

    page.locator("#alert").filter(has_text="This tablet is no longer paired").wait_for()
    assert page.locator("#find").is_hidden() and page.locator("#card").is_hidden()
    assert page.evaluate(f"localStorage.getItem('{PAIRING_KEY}')") is None
    with page.expect_navigation():
        page.get_by_role("link", name="Pair this tablet").click()
    assert page.url.endswith("/counter/pair/")
    # Back at the counter, it asks for pairing again.
    page.goto(tablet.origin + "/counter/")
    page.wait_for_url(tablet.origin + "/en/counter/pair/")


def test_answers_of_the_api_read_as_sentences_in_the_staff_members_language(
    bakery, tablet, settings
):
    page = tablet.page
    card = bakery["card"]
    # Per hour: a window boundary between the two earns (which would let both through) is
    # then all but impossible.
    settings.TERMINAL_RATE_LIMITS = {**settings.TERMINAL_RATE_LIMITS, "earn": "1/h"}
    pair_by_key(tablet, bakery["store"], language="/de")
    assert page.locator("html").get_attribute("lang") == "de"
    page.get_by_label("Kartennummer").fill(card.number)
    page.get_by_role("button", name="Karte suchen").click()
    page.locator("#card").wait_for(state="visible")

    def operation(field, value, button):
        page.get_by_label(field).fill(value)
        page.get_by_role("button", name=button, exact=True).click()
        confirm = page.get_by_role("dialog")
        confirm.get_by_label("Ihre Mitarbeiter-PIN").fill(STAFF_PIN)
        confirm.get_by_role("button", name="Bestätigen").click()

    # 409: more points than the card holds.
    operation("Punkte", "5000", "Einlösen")
    page.locator("#alert").filter(has_text="Die Karte hat nicht genug Punkte dafür.").wait_for()

    # 429 with Retry-After: the earn is kept and sent again later.
    operation("Einkaufsbetrag (€)", "1", "Gutschreiben")
    page.locator("#status").filter(has_text="Erledigt").wait_for()
    operation("Einkaufsbetrag (€)", "2", "Gutschreiben")
    alert = page.locator("#alert")
    alert.filter(has_text="Zu viele Vorgänge von diesem Tablet").wait_for()
    assert re.search(r"in \d+ s erneut gesendet", alert.inner_text())
    assert page.locator("#pending").is_visible()
    assert "{" not in alert.inner_text()

    # 503 busy (contention outlasting its retries, played here by the browser).
    page.route(
        "**/stamps/",
        lambda route: route.fulfill(
            status=503,
            headers={"Retry-After": "3", "Content-Type": "application/json"},
            body='{"code": "busy", "detail": "The card is busy."}',
        ),
    )
    operation("Hinzuzufügende Stempel", "1", "Stempel hinzufügen")
    alert.filter(has_text="Die Karte ist gerade mit anderen Vorgängen beschäftigt").wait_for()
    assert "in 3 s" in alert.inner_text()
    assert "busy" not in alert.inner_text()


def test_the_scripts_check_digit_agrees_with_the_servers(bakery, tablet):
    tablet.open("/counter/pair/")
    numbers = [card_numbers.generate() for _ in range(100)]
    typed = []
    for number in numbers[:50]:
        position = int(number[0]) % 12
        digit = str((int(number[position]) + 3) % 10)
        typed.append(number[:position] + digit + number[position + 1 :])
        typed.append(number[:2] + number[3] + number[2] + number[4:])
    samples = [*numbers, *typed, "1234 5678 9012", "", "12345678901a"]
    samples.append(card_numbers.display(numbers[0]))

    in_browser = tablet.page.evaluate(
        "(samples) => samples.map((s) => CardNumber.normalize(s))", samples
    )

    assert in_browser == [card_numbers.normalize(sample) for sample in samples]
    assert sum(result is None for result in in_browser) >= 50


def test_the_camera_button_shows_only_where_the_browser_reads_barcodes(bakery, tablet):
    page = tablet.page
    pair_by_key(tablet, bakery["store"])
    supported = page.evaluate("'BarcodeDetector' in window")
    assert page.get_by_role("button", name="Scan with the camera").is_visible() == supported


def test_the_camera_reads_a_card(bakery, browser, live_server):
    """Where BarcodeDetector exists, the camera's picture is read until a card number shows.
    Headless chromium on Linux has neither a camera nor the detector: both are stood in for,
    the page's own code runs."""
    card = bakery["card"]
    context = browser.new_context(viewport=TABLET)
    context.add_init_script(
        """
        window.BarcodeDetector = class {
          static async getSupportedFormats() { return ["qr_code", "ean_13"]; }
          constructor(options) { window.detectorFormats = options.formats; }
          async detect() { return window.shownCode ? [{rawValue: window.shownCode}] : []; }
        };
        navigator.mediaDevices.getUserMedia = async () => {
          const canvas = document.createElement("canvas");
          canvas.getContext("2d").fillRect(0, 0, 10, 10);
          return canvas.captureStream();
        };
        """
    )
    visit = Visit(context.new_page(), live_server.url)
    page = visit.page
    pair_by_key(visit, bakery["store"])
    page.get_by_role("button", name="Scan with the camera").click()
    page.locator("#camera").wait_for(state="visible")
    page.evaluate("(number) => { window.shownCode = number; }", card.number)
    page.locator("#card").wait_for(state="visible")
    assert page.locator("#card-customer").inner_text() == "Ana"
    assert page.locator("#camera").is_hidden()
    assert page.evaluate("window.detectorFormats") == ["qr_code", "ean_13"]
    context.close()
