"""The API docs and the admin in a real browser, under the Content-Security-Policy.

Debian's chromium (/usr/bin/chromium) driven by Playwright against a live server that also
serves the static files. Without chromium these tests skip, except in CI (CI=true), where a
missing browser is an error: CI must not pass on skipped browser tests.
"""

from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from config.env import env_bool
from tests.analytics_history import build_history
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AXE_URL = "/static/vendor/axe-core/axe.min.js"
PASSWORD = "right-horse-battery"

# Collected in the page before any of its scripts run: the browser fires this event for
# every resource or inline block the policy refuses.
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


class Visit:
    """One browser tab, with everything it requested and every policy violation it saw."""

    def __init__(self, page, origin):
        self.page = page
        self.origin = origin
        self.requests = []
        self.console_errors = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on(
            "console",
            lambda message: message.type == "error" and self.console_errors.append(message.text),
        )
        page.add_init_script(RECORD_CSP_VIOLATIONS)

    def open(self, path):
        response = self.page.goto(self.origin + path)
        assert response.status == 200, path

    def log_in(self, username, password):
        self.open("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_url(self.origin + "/admin/")

    def assert_no_csp_violation(self):
        assert self.page.evaluate("window.cspViolations") == []
        assert [text for text in self.console_errors if "Content Security Policy" in text] == []

    def assert_same_origin_only(self):
        assert self.requests
        assert [url for url in self.requests if not url.startswith(self.origin + "/")] == []

    def serious_accessibility_violations(self, skip_rules=()):
        """axe-core's serious and critical findings: rule id and the elements at fault.

        axe is added as a script served by the project (add_script_tag(url=...)): the
        policy lets it in like any of our scripts, where an inline copy (path=...) would be
        refused."""
        self.page.add_script_tag(url=self.origin + AXE_URL)
        return self.page.evaluate(
            """async (skipRules) => {
              const rules = Object.fromEntries(skipRules.map((id) => [id, {enabled: false}]));
              const {violations} = await axe.run(document, {rules});
              return violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
            }""",
            list(skip_rules),
        )


@pytest.fixture
def operator(transactional_db):
    # Made before the browser starts: Playwright runs an event loop in this thread, and
    # Django refuses database queries while one runs.
    return UserFactory(username="ops", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def schedule_path(schedules):
    """The admin form of one beat schedule row (looked up, like the operator, before the
    browser starts)."""
    task = PeriodicTask.objects.first()
    return reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])


@pytest.fixture
def browser(live_server):
    if not CHROMIUM.exists():
        if env_bool("CI", False):
            pytest.fail(f"CI must run the browser tests, and {CHROMIUM} is missing")
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def visit(browser, live_server):
    context = browser.new_context()
    yield Visit(context.new_page(), live_server.url)
    context.close()


def test_the_api_docs_render_every_operation_under_the_policy(visit):
    visit.open("/api/docs/")
    visit.page.wait_for_selector(".opblock")
    earn = visit.page.locator(".opblock", has_text="/points/earn/")
    earn.locator(".opblock-summary").click()
    earn.locator(".opblock-body").wait_for()

    assert visit.page.locator(".opblock").count() >= 10
    visit.assert_no_csp_violation()
    visit.assert_same_origin_only()
    # Two rules are skipped: their findings are in Swagger UI's own stylesheet and markup,
    # which we serve as released: low-contrast text (the method badges, the version stamps)
    # and the buttons nested inside each operation's summary button. The page around is ours.
    assert (
        visit.serious_accessibility_violations(skip_rules=["color-contrast", "nested-interactive"])
        == []
    )


def test_an_operator_logs_in_to_the_admin_under_the_policy(operator, visit):
    visit.open("/admin/login/")
    assert visit.serious_accessibility_violations() == []

    visit.log_in("ops", PASSWORD)

    assert visit.page.locator("#site-name").is_visible()
    assert visit.page.locator("#content h1").inner_text() == "Site administration"
    assert visit.serious_accessibility_violations() == []
    visit.assert_no_csp_violation()
    visit.assert_same_origin_only()


def test_the_lockout_page_is_accessible_under_the_policy(operator, visit):
    visit.open("/admin/login/")
    for attempt in range(5):
        visit.page.fill("#id_username", "ops")
        visit.page.fill("#id_password", f"wrong-{attempt}")
        with visit.page.expect_navigation():
            visit.page.click("input[type=submit]")

    assert visit.page.locator("h1").inner_text() == "Login locked"
    assert visit.serious_accessibility_violations() == []
    visit.assert_no_csp_violation()


def test_every_admin_list_and_the_schedule_form_work_under_the_policy(
    operator, schedule_path, visit
):
    changelists = [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    visit.log_in("ops", PASSWORD)

    for path in changelists:
        visit.open(path)
        visit.assert_no_csp_violation()
    # django-celery-beat's form runs an inline script (templates/admin/djcelery/): with its
    # nonce it runs, and hides the crontab translation row it replaces with live help.
    visit.open(schedule_path)
    visit.assert_no_csp_violation()
    assert visit.page.locator(".field-crontab_translation").is_hidden()
    visit.assert_same_origin_only()


@pytest.fixture
def analytics_path(transactional_db):
    merchant = build_history()["merchant"]
    return (
        reverse("analytics-merchant", args=[merchant.pk])
        + "?date_from=2026-01-01&date_to=2026-03-31"
    )


def test_the_analytics_page_draws_its_charts_under_the_policy(operator, analytics_path, visit):
    visit.log_in("ops", PASSWORD)
    visit.page.set_viewport_size({"width": 1280, "height": 900})
    visit.open(analytics_path)
    # Chart.js draws each chart on its canvas; a drawn canvas has a Chart instance.
    visit.page.wait_for_function(
        "['chart-enrolments', 'chart-points', 'chart-revenue']"
        ".every((id) => window.Chart && Chart.getChart(id))"
    )
    drawn = visit.page.evaluate(
        """() => ['chart-enrolments', 'chart-points', 'chart-revenue'].map((id) => {
              const chart = Chart.getChart(id);
              return [id, chart.data.datasets.map((d) => d.data.reduce((a, b) => a + b, 0))];
            })"""
    )

    assert drawn == [
        ["chart-enrolments", [5]],
        ["chart-points", [114, 20, 10]],
        ["chart-revenue", [60, 7]],
    ]
    assert visit.page.locator(".analytics-heatmap tbody tr").count() == 2
    visit.assert_no_csp_violation()
    visit.assert_same_origin_only()
    assert visit.serious_accessibility_violations() == []
    ARTIFACTS.mkdir(exist_ok=True)
    visit.page.screenshot(path=str(ARTIFACTS / "analytics.png"), full_page=True)


def test_the_analytics_page_reads_without_javascript(
    operator, analytics_path, browser, live_server
):
    context = browser.new_context(java_script_enabled=False)
    visit = Visit(context.new_page(), live_server.url)
    try:
        visit.log_in("ops", PASSWORD)
        visit.open(analytics_path)

        assert visit.page.locator(".analytics-heatmap tbody tr").count() == 2
        assert visit.page.locator("#churn-heading ~ table tbody tr").count() == 3
        assert visit.page.get_by_text("Health per day, as a table").is_visible()
    finally:
        context.close()
