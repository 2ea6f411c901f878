"""The enrolment funnel's form_start step in a real browser (Debian's chromium, through
Playwright): the page's own script sends one same-origin beacon on the first focus of a field,
within the Content-Security-Policy."""

import pytest
from prometheus_client import REGISTRY

from tests.browser_support import Visit
from tests.factories import ProgramFactory, StoreFactory

pytestmark = pytest.mark.browser

FORM_START = {"merchant": "demo-bakery", "step": "form_start"}


@pytest.fixture
def shop(transactional_db):
    """Made before the browser starts: Django refuses database queries while Playwright's
    event loop runs in this thread."""
    store = StoreFactory(merchant__slug="demo-bakery", merchant__name="Demo Bakery", code="main")
    return ProgramFactory(merchant=store.merchant, name="Bread Club")


def form_starts() -> float:
    # The live server answers from a thread of this process, whose own figures these are.
    return REGISTRY.get_sample_value("loyalty_enrolment_funnel_total", FORM_START) or 0.0


def test_the_first_focus_on_a_field_sends_one_beacon(shop, browser, live_server):
    context = browser.new_context()
    visit = Visit(context.new_page(), live_server.url)
    page = visit.page
    visit.open("/enroll/demo-bakery/")
    before = form_starts()

    with page.expect_response(lambda response: response.url.endswith("/started/")) as beacon:
        page.get_by_label("First name").click()
    page.keyboard.type("Nina")
    page.get_by_label("Last name").click()
    page.get_by_label("Email address").click()

    assert beacon.value.status == 204
    assert beacon.value.request.method == "POST"
    assert [url for url in visit.requests if url.endswith("/started/")] == [
        f"{live_server.url}/enroll/demo-bakery/started/"
    ]
    assert form_starts() == before + 1
    visit.assert_no_csp_violation()
    context.close()
