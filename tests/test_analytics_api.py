"""`/api/v1/merchant/analytics/...`: who may read what, parameters, answers and CSV."""

import csv
import datetime
import io

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.authtoken.models import Token

from merchants.models import StaffMembership
from tests.analytics_history import build_history
from tests.factories import StaffMembershipFactory, UserFactory

QUARTER = {"date_from": "2026-01-01", "date_to": "2026-03-31"}


@pytest.fixture
def history(db):
    return build_history()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator(db):
    return logged_in(UserFactory(is_staff=True, is_superuser=True))


@pytest.fixture
def alice_staff(history):
    """A manager of Alice's Bakery (all stores)."""
    membership = StaffMembershipFactory(
        merchant=history["merchant"], role=StaffMembership.Role.MANAGER
    )
    return logged_in(membership.user)


def test_an_operator_reads_a_merchants_cohorts(history, operator):
    response = operator.get(
        "/api/v1/merchant/analytics/cohorts/", {"merchant": "alice-bakery", **QUARTER}
    )

    assert response.status_code == 200
    assert response.json() == {
        "data_as_of": "2026-04-01T04:00:00Z",
        "period": {
            "merchant": "alice-bakery",
            "timezone": "America/New_York",
            "date_from": "2026-01-01",
            "date_to": "2026-03-31",
            "store": None,
        },
        "cohorts": [
            {
                "month": "2026-01-01",
                "cards": 3,
                "active": [1, 1, 2],
                "shares": [1 / 3, 1 / 3, 2 / 3],
            },
            {"month": "2026-02-01", "cards": 2, "active": [1, 0], "shares": [0.5, 0.0]},
        ],
    }


def test_the_merchants_staff_read_their_merchant_without_naming_it(history, alice_staff):
    response = alice_staff.get("/api/v1/merchant/analytics/revenue/", QUARTER)

    assert response.status_code == 200
    body = response.json()
    assert body["period"]["merchant"] == "alice-bakery"
    assert body["by_store"] == [
        {
            "month": "2026-01-01",
            "store": "main",
            "store_name": "Main street",
            "revenue_cents": 6000,
            "purchases": 3,
            "members": 2,
            "per_member_cents": 3000.0,
        },
        {
            "month": "2026-02-01",
            "store": "north",
            "store_name": "North",
            "revenue_cents": 700,
            "purchases": 1,
            "members": 1,
            "per_member_cents": 700.0,
        },
    ]
    assert body["total"]["revenue_cents"] == 6700
    assert body["total"]["month"] is None


@pytest.mark.parametrize("endpoint", ["cohorts", "churn", "revenue", "health"])
def test_a_merchants_staff_cannot_read_another_merchant(history, alice_staff, endpoint):
    response = alice_staff.get(
        f"/api/v1/merchant/analytics/{endpoint}/", {"merchant": "bob-books", **QUARTER}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_staff_with_the_operator_permission_stay_scoped_to_their_merchant(history):
    """Model permissions given for the admin's pages do not make a member an operator."""
    membership = StaffMembershipFactory(merchant=history["merchant"])
    membership.user.is_staff = True
    membership.user.save()
    membership.user.user_permissions.add(Permission.objects.get(codename="view_merchant"))
    client = logged_in(membership.user)

    assert (
        client.get("/api/v1/merchant/analytics/health/", {"merchant": "bob-books"}).status_code
        == 404
    )
    assert client.get("/api/v1/merchant/analytics/health/", QUARTER).status_code == 200


def test_staff_holding_the_operator_permission_read_any_merchant(history):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_merchant"))
    client = logged_in(user)

    response = client.get(
        "/api/v1/merchant/analytics/health/", {"merchant": "bob-books", **QUARTER}
    )

    assert response.status_code == 200
    assert response.json()["points_issued"] == 8900


def test_a_user_without_membership_or_permission_reads_nothing(history):
    client = logged_in(UserFactory(is_staff=True))

    named = client.get("/api/v1/merchant/analytics/health/", {"merchant": "alice-bakery"})
    unnamed = client.get("/api/v1/merchant/analytics/health/")

    assert (named.status_code, named.json()["code"]) == (404, "not_found")
    assert (unnamed.status_code, unnamed.json()["code"]) == (400, "invalid")
    assert list(unnamed.json()["fields"]) == ["merchant"]


def test_an_operator_must_name_the_merchant(history, operator):
    response = operator.get("/api/v1/merchant/analytics/health/")

    assert response.status_code == 400
    assert response.json()["fields"] == {"merchant": ["Name the merchant (its slug)."]}


def test_store_staff_get_their_store_only(history):
    membership = StaffMembershipFactory(merchant=history["merchant"], store=history["north"])
    client = logged_in(membership.user)

    own = client.get("/api/v1/merchant/analytics/revenue/", QUARTER)
    other = client.get("/api/v1/merchant/analytics/revenue/", {"store": "main", **QUARTER})

    assert own.status_code == 200
    assert own.json()["period"]["store"] == "north"
    assert [line["store"] for line in own.json()["by_store"]] == ["north"]
    assert (other.status_code, other.json()["code"]) == (404, "not_found")


def test_a_managers_script_reads_the_figures_with_the_operations_apis_token(history):
    """The same token as the rest of /api/v1/merchant/, without a session (nor CSRF)."""
    manager = StaffMembershipFactory(
        merchant=history["merchant"], role=StaffMembership.Role.MANAGER
    ).user
    token = Token.objects.create(user=manager).key

    response = Client().get(
        "/api/v1/merchant/analytics/revenue/", QUARTER, HTTP_AUTHORIZATION=f"Token {token}"
    )
    csv_response = Client().get(
        "/api/v1/merchant/analytics/health/",
        {"format": "csv", **QUARTER},
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    wrong = Client().get(
        "/api/v1/merchant/analytics/revenue/", QUARTER, HTTP_AUTHORIZATION="Token nope"
    )

    assert response.status_code == 200
    assert response.json()["period"]["merchant"] == "alice-bakery"
    assert response.json()["total"]["revenue_cents"] == 6700
    assert csv_response.status_code == 200
    assert csv_response.content.decode().splitlines()[0] == (
        "day,enrolments,points_issued,points_redeemed,points_expired"
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "authentication_failed")


def test_an_anonymous_request_is_refused(history):
    response = Client().get("/api/v1/merchant/analytics/cohorts/", {"merchant": "alice-bakery"})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "2026-03-01", "date_to": "2026-02-01"}, "date_from"),
        ({"date_from": "2020-01-01", "date_to": "2026-01-01"}, "date_to"),
        ({"date_to": "31/03/2026"}, "date_to"),
        ({"store": "nowhere"}, "store"),
        ({"store": "not a code!"}, "store"),
        ({"format": "xml"}, "format"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(history, operator, params, field):
    response = operator.get(
        "/api/v1/merchant/analytics/revenue/", {"merchant": "alice-bakery", **params}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == [field]


@pytest.mark.parametrize("limit", ["0", "1001", "many"])
def test_the_churn_limit_is_checked(history, operator, limit):
    response = operator.get(
        "/api/v1/merchant/analytics/churn/", {"merchant": "alice-bakery", "limit": limit}
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["limit"]


def test_churn_answers_the_count_and_the_most_overdue_cards(history, alice_staff):
    cards = history["cards"]

    response = alice_staff.get("/api/v1/merchant/analytics/churn/", {**QUARTER, "limit": 2})

    body = response.json()
    assert response.status_code == 200
    # Midnight at the end of 31 March in New York.
    assert body["as_of"] == "2026-04-01T04:00:00Z"
    assert body["at_risk_count"] == 3
    assert [card["number"] for card in body["at_risk"]] == [cards["c5"].number, cards["c6"].number]
    assert body["at_risk"][1]["last_visit_at"] is None
    assert body["at_risk"][1]["own_median"] is False


def test_health_answers_totals_rates_and_every_day(history, alice_staff):
    body = alice_staff.get("/api/v1/merchant/analytics/health/", QUARTER).json()

    assert {key: value for key, value in body.items() if key not in ("days", "period")} == {
        "enrolments": 5,
        "points_issued": 114,
        "points_redeemed": 20,
        "points_expired": 10,
        "redemption_rate": pytest.approx(20 / 114),
        "redemption_is_healthy": False,
        "stamp_cards": 2,
        "stamp_cards_completed": 1,
        "stamp_completion_rate": 0.5,
        "active_cards": 1,
        "live_cards": 5,
        "data_as_of": "2026-04-01T04:00:00Z",
    }
    assert len(body["days"]) == 90
    assert body["days"][30] == {
        "day": "2026-01-31",
        "enrolments": 1,
        "points_issued": 20,
        "points_redeemed": 0,
        "points_expired": 0,
    }


@time_machine.travel(datetime.datetime(2026, 4, 15, 3, 0, tzinfo=datetime.UTC))
def test_the_range_defaults_to_twelve_months_up_to_the_merchants_today(history, alice_staff):
    """At 03:00 UTC it is still 14 April in New York."""
    period = alice_staff.get("/api/v1/merchant/analytics/health/").json()["period"]
    ending = alice_staff.get(
        "/api/v1/merchant/analytics/health/", {"date_to": "2026-02-10"}
    ).json()["period"]

    assert (period["date_from"], period["date_to"]) == ("2025-05-01", "2026-04-14")
    assert (ending["date_from"], ending["date_to"]) == ("2025-03-01", "2026-02-10")


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_each_table_downloads_as_csv(history, alice_staff):
    cohorts = alice_staff.get("/api/v1/merchant/analytics/cohorts/", {**QUARTER, "format": "csv"})
    churn = alice_staff.get(
        "/api/v1/merchant/analytics/churn/", {**QUARTER, "limit": 1}, HTTP_ACCEPT="text/csv"
    )
    revenue = alice_staff.get("/api/v1/merchant/analytics/revenue/", {**QUARTER, "format": "csv"})
    health = alice_staff.get("/api/v1/merchant/analytics/health/", {**QUARTER, "format": "csv"})

    assert cohorts["Content-Type"] == "text/csv; charset=utf-8"
    assert cohorts["Content-Disposition"] == (
        'attachment; filename="alice-bakery-cohorts-2026-01-01-2026-03-31.csv"'
    )
    assert read_csv(cohorts) == [
        ["cohort", "cards", "month", "months_after_enrolment", "active_cards", "share"],
        ["2026-01-01", "3", "2026-01", "0", "1", "0.3333"],
        ["2026-01-01", "3", "2026-02", "1", "1", "0.3333"],
        ["2026-01-01", "3", "2026-03", "2", "2", "0.6667"],
        ["2026-02-01", "2", "2026-02", "0", "1", "0.5000"],
        ["2026-02-01", "2", "2026-03", "1", "0", "0.0000"],
    ]
    # The CSV lists every card at risk, whatever the limit.
    churn_rows = read_csv(churn)
    assert churn_rows[0] == [
        "card", "visits", "enrolled_at", "last_visit_at", "silence_days", "median_gap_days",
        "own_median",
    ]  # fmt: skip
    assert [row[0] for row in churn_rows[1:]] == [
        history["cards"][name].number for name in ("c5", "c6", "c3")
    ]
    assert churn_rows[2][3] == ""
    assert read_csv(revenue) == [
        ["month", "store", "store_name", "revenue_cents", "purchases", "members",
         "per_member_cents"],
        ["2026-01-01", "main", "Main street", "6000", "3", "2", "3000.0000"],
        ["2026-02-01", "north", "North", "700", "1", "1", "700.0000"],
    ]  # fmt: skip
    health_rows = read_csv(health)
    assert len(health_rows) == 91
    assert health_rows[31] == ["2026-01-31", "1", "20", "0", "0"]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted(history, alice_staff):
    history["main"].name = '=HYPERLINK("http://evil.example")'
    history["main"].save()

    rows = read_csv(
        alice_staff.get("/api/v1/merchant/analytics/revenue/", {**QUARTER, "format": "csv"})
    )

    assert rows[1][2] == '\'=HYPERLINK("http://evil.example")'


def test_an_error_in_a_csv_request_is_json(history, alice_staff):
    response = alice_staff.get(
        "/api/v1/merchant/analytics/cohorts/",
        {**QUARTER, "date_from": "2026-05-01", "format": "csv"},
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "invalid"
