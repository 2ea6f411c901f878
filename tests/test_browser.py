"""The API docs and the admin in a real browser, under the Content-Security-Policy.

Debian's chromium (/usr/bin/chromium) driven by Playwright against a live server that also
serves the static files. Without chromium these tests skip, except in CI (CI=true), where a
missing browser is an error: CI must not pass on skipped browser tests.
"""

import os
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from tests.analytics_history import build_history
from tests.browser_support import Visit
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "right-horse-battery"


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
def failing_wallet_pass(google_wallet, card):
    """A card whose wallet pass failed in three sync runs in a row (made before the browser
    starts, like the operator)."""
    from loyalty.models import Card, WalletPass
    from loyalty.wallet import services

    services.request_pass(card=card)
    Card.all_objects.filter(pk=card.pk).update(wallet_pass_state="stale")
    WalletPass.objects.filter(pk=card.pk).update(
        failed_runs=3, last_error="PATCH answered 400: Invalid barcode"
    )
    return card


def test_the_wallet_passes_admin_shows_the_wallet_line_accessibly(
    operator, failing_wallet_pass, visit
):
    visit.log_in("ops", PASSWORD)
    visit.open(reverse("admin:loyalty_walletpass_changelist") + "?failing=failing")

    status = visit.page.locator("#wallet-status")
    assert status.locator("h2").inner_text() == "Google Wallet"
    assert "Configured: issuer" in status.inner_text()
    assert "1 failing in 3 or more sync runs in a row" in status.inner_text()
    assert "Invalid barcode" in visit.page.locator("#result_list").inner_text()
    # One rule skipped: its finding is Django admin's own breadcrumbs (links told apart from
    # the text around them by colour alone), on every admin list; the wallet line is ours.
    assert visit.serious_accessibility_violations(skip_rules=["link-in-text-block"]) == []
    visit.assert_no_csp_violation()
    visit.assert_same_origin_only()


@pytest.fixture
def operator_world(operator):
    """A merchant with a card that has ledger history, and its manager (made before the
    browser starts, like the operator)."""
    from loyalty.services import ledger
    from merchants.models import StaffMembership
    from tests.factories import (
        CardFactory,
        MerchantFactory,
        ProgramFactory,
        StaffMembershipFactory,
        StoreFactory,
    )

    merchant = MerchantFactory(name="Alpha Foods")
    store = StoreFactory(merchant=merchant, code="main")
    card = CardFactory(program=ProgramFactory(merchant=merchant), enrolled_store=store)
    for points in (10, 20, 30):
        ledger.earn_points(card=card, store=store, points=points)
    manager = UserFactory(username="alpha-manager", password=PASSWORD, is_staff=True)
    StaffMembershipFactory(user=manager, merchant=merchant, role=StaffMembership.Role.MANAGER)
    return {"card": card, "store": store, "merchant": merchant}


def _screenshot(visit, name):
    """Kept when SCREENSHOT_DIR is set, for a person to look at."""
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        # caret="initial": hiding the caret would inject a style the policy refuses.
        visit.page.screenshot(
            path=str(Path(directory) / f"{name}.png"), full_page=True, caret="initial"
        )


def assert_page_clean(visit):
    """No policy violation, then no serious accessibility finding. In that order: axe's own
    probing of the page can trip the policy (an inline style it tries), which says nothing of
    the page; what it logs is forgotten before the next page."""
    visit.assert_no_csp_violation()
    assert visit.serious_accessibility_violations() == []
    visit.console_errors.clear()


def test_an_operator_restores_points_and_runs_bulk_actions_in_the_browser(operator_world, visit):
    card = operator_world["card"]
    visit.log_in("ops", PASSWORD)

    visit.open(f"/admin/loyalty/card/{card.pk}/change/")
    assert visit.page.locator("#card-ledger tbody tr").count() == 3
    assert_page_clean(visit)
    _screenshot(visit, "card-page")
    visit.page.click("text=Restore points")
    assert_page_clean(visit)
    _screenshot(visit, "restore-points")
    visit.page.fill("#id_points", "25")
    visit.page.fill("#id_reason", "Wrongly expired")
    with visit.page.expect_navigation():
        visit.page.click("input[type=submit]")
    assert "its balance is 85" in visit.page.locator(".messagelist").inner_text()
    assert visit.page.locator("#card-ledger tbody tr").count() == 4

    visit.open("/admin/loyalty/card/")
    visit.page.check(f"input[name=_selected_action][value='{card.pk}']")
    visit.page.select_option("select[name=action]", "grant_bonus")
    with visit.page.expect_navigation():
        visit.page.click("button[name=index]")
    assert visit.page.locator("h1").inner_text() == "Grant bonus points"
    assert_page_clean(visit)
    _screenshot(visit, "grant-bonus")
    visit.page.fill("#id_points", "5")
    visit.page.fill("#id_reason", "Anniversary")
    with visit.page.expect_navigation():
        visit.page.click("input[type=submit]")
    assert "Bonus of 5 points: 1 changed, 0 skipped." in visit.page.inner_text(".messagelist")

    visit.open(f"/admin/merchants/merchant/{operator_world['merchant'].pk}/delete/")
    assert_page_clean(visit)
    _screenshot(visit, "move-to-trash")
    with visit.page.expect_navigation():
        visit.page.click("input[type=submit]")
    visit.open("/admin/merchants/merchant/?trashed=yes")
    visit.page.check("#action-toggle")
    visit.page.select_option("select[name=action]", "delete_permanently")
    with visit.page.expect_navigation():
        visit.page.click("button[name=index]")
    assert "It has ledger history" in visit.page.inner_text("#content-main")
    assert_page_clean(visit)
    _screenshot(visit, "delete-permanently-refused")

    visit.open("/admin/loyalty/staffpin/assign/")
    assert_page_clean(visit)
    _screenshot(visit, "assign-pins")
    visit.assert_same_origin_only()


def test_a_merchants_manager_sees_their_merchant_in_the_browser(operator_world, visit):
    visit.log_in("alpha-manager", PASSWORD)
    assert_page_clean(visit)
    visit.open("/admin/loyalty/card/")
    assert visit.page.locator("#result_list tbody tr").count() == 1
    assert_page_clean(visit)
    _screenshot(visit, "manager-cards")


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
