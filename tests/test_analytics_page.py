"""The analytics page in the admin, rendered by the server (the browser test draws it)."""

import pytest
from django.test import Client
from django.urls import reverse

from merchants.models import StaffMembership
from tests.analytics_history import build_history
from tests.factories import MerchantFactory, StaffMembershipFactory, UserFactory

QUARTER = {"date_from": "2026-01-01", "date_to": "2026-03-31"}


@pytest.fixture
def history(db):
    return build_history()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(history, merchant="merchant"):
    return reverse("analytics-merchant", args=[history[merchant].pk])


def test_the_merchant_page_links_to_its_analytics(history):
    operator = logged_in(UserFactory(is_staff=True, is_superuser=True))

    response = operator.get(
        reverse("admin:merchants_merchant_change", args=[history["merchant"].pk])
    )

    assert f'href="{page(history)}"' in response.content.decode()


def test_an_operator_sees_every_table_without_javascript(history):
    operator = logged_in(UserFactory(is_staff=True, is_superuser=True))

    response = operator.get(page(history), QUARTER)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Analytics: Alice&#x27;s Bakery" in html
    # How fresh the figures are, in the merchant's time zone.
    assert "Figures as of 2026-04-01 00:00 EDT: they count what happened before then" in html
    # The heatmap: January's cohort, 3 cards, 33 % then 33 % then 67 %.
    assert (
        '<td class="heat-3">33&nbsp;% <span class="analytics-count">(1)</span></td>'
        '<td class="heat-3">33&nbsp;% <span class="analytics-count">(1)</span></td>'
        '<td class="heat-7">67&nbsp;% <span class="analytics-count">(2)</span></td>'
    ) in html
    # The revenue table, in euros; every card at risk links to its card page.
    assert "<td>60.00</td><td>3</td><td>2</td><td>30.00</td>" in html
    for name in ("c5", "c6", "c3"):
        card = history["cards"][name]
        link = reverse("admin:loyalty_card_change", args=[card.pk])
        assert f'<a href="{link}">{card.number}</a>' in html
    assert '<th scope="row">2026-01-31</th><td>1</td><td>20</td><td>0</td><td>0</td>' in html
    # Dates in the merchant's time zone: c3's last visit, 28 February 22:00 in New York.
    assert "<td>3</td>\n              <td>2026-02-28</td>" in html
    # CSV links for the same range, and the charts' data for the static script.
    assert (
        "/api/v1/merchant/analytics/cohorts/?merchant=alice-bakery&amp;date_from=2026-01-01"
        "&amp;date_to=2026-03-31&amp;format=csv"
    ) in html
    data = response.context["chart_data"]
    assert data["revenue"]["labels"] == ["2026-01", "2026-02"]
    assert data["revenue"]["series"] == [
        {"label": "main", "values": [60.0, 0]},
        {"label": "north", "values": [0, 7.0]},
    ]
    assert len(data["points"]["labels"]) == 90
    assert '<script id="analytics-data" type="application/json">' in html


def test_before_the_first_refresh_the_page_says_the_figures_are_not_computed_yet(db):
    merchant = MerchantFactory()
    operator = logged_in(UserFactory(is_staff=True, is_superuser=True))

    response = operator.get(reverse("analytics-merchant", args=[merchant.pk]))

    assert response.status_code == 200
    assert "Not computed yet" in response.content.decode()


def test_the_merchants_staff_see_their_page_and_not_another(history):
    membership = StaffMembershipFactory(
        merchant=history["merchant"], role=StaffMembership.Role.OWNER
    )
    membership.user.is_staff = True
    membership.user.save()
    client = logged_in(membership.user)

    assert client.get(page(history), QUARTER).status_code == 200
    assert client.get(page(history, "rival"), QUARTER).status_code == 404


def test_store_staff_see_their_store_only(history):
    membership = StaffMembershipFactory(merchant=history["merchant"], store=history["north"])
    membership.user.is_staff = True
    membership.user.save()

    response = logged_in(membership.user).get(page(history), {**QUARTER, "store": "main"})

    # Another store is not theirs: the form refuses it and the page shows their store.
    assert response.status_code == 200
    assert response.context["period"].store == history["north"]
    assert "Select a valid choice" in response.content.decode()


def test_a_non_staff_user_is_sent_to_the_admin_login(history):
    response = logged_in(UserFactory()).get(page(history))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_bad_range_is_explained_and_the_default_range_shown(history):
    operator = logged_in(UserFactory(is_staff=True, is_superuser=True))

    response = operator.get(page(history), {"date_from": "2026-03-01", "date_to": "2026-01-01"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "The range was not valid" in html
    assert "Must not be after date_to." in html
    assert response.context["period"].date_to != response.context["form"].data["date_to"]
