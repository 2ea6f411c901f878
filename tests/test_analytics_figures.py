"""Each figure against the hand-computed history of tests/analytics_history.py."""

import datetime

import pytest

from loyalty.analytics import selectors
from loyalty.analytics.periods import MAX_DAYS, Period
from merchants.errors import InvalidInput
from tests.analytics_history import build_history, local
from tests.factories import MerchantFactory, StoreFactory

JAN, FEB, MAR = datetime.date(2026, 1, 1), datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)


def days_between(earlier: datetime.datetime, later: datetime.datetime) -> float:
    """Elapsed days (in UTC: the wall clock jumps an hour on 8 March in New York)."""
    return (later.astimezone(datetime.UTC) - earlier.astimezone(datetime.UTC)).total_seconds() / (
        86400
    )


@pytest.fixture
def history(db):
    return build_history()


@pytest.fixture
def quarter(history):
    return Period(
        merchant=history["merchant"],
        date_from=datetime.date(2026, 1, 1),
        date_to=datetime.date(2026, 3, 31),
    )


def test_cohorts_group_cards_by_local_enrolment_month_and_count_visits_per_local_month(quarter):
    cohorts = selectors.cohort_retention(period=quarter)

    # January: c1, c6 and c2 (enrolled 31 Jan 23:00, 1 Feb in UTC). c1 visited in January
    # (its 31 Jan 23:30 visit too); c2 in February and March; c1 in March.
    # February: c3 and c4 (trashed, still enrolled then); c3 visited in February only (28 Feb
    # 22:00 is 1 March in UTC).
    assert [(c.month, c.cards, c.active) for c in cohorts] == [
        (JAN, 3, [1, 1, 2]),
        (FEB, 2, [1, 0]),
    ]
    assert cohorts[0].shares == [1 / 3, 1 / 3, 2 / 3]


def test_cohorts_of_one_store_are_the_cards_it_enrolled(history, quarter):
    north = Period(**{**quarter.__dict__, "store": history["north"]})

    cohorts = selectors.cohort_retention(period=north)

    assert [(c.month, c.cards, c.active) for c in cohorts] == [(FEB, 2, [1, 0])]


def test_cohorts_start_within_the_range_and_run_to_its_last_month(history):
    march = Period(
        merchant=history["merchant"],
        date_from=datetime.date(2026, 2, 1),
        date_to=datetime.date(2026, 3, 31),
    )

    assert [(c.month, c.cards, c.active) for c in selectors.cohort_retention(period=march)] == [
        (FEB, 2, [1, 0])
    ]


def test_churn_lists_cards_silent_for_more_than_twice_their_median_gap(history, quarter):
    cards = history["cards"]
    as_of = local(4, 1, 0)
    # Every gap between two visits of Alice's cards, in days: c1 has three, c2 one, c3 two.
    c1_gaps = sorted(
        [
            days_between(local(1, 5), local(1, 31, 23, 30)),
            days_between(local(1, 31, 23, 30), local(3, 10)),
            days_between(local(3, 10), local(3, 12)),
        ]
    )
    c3_gaps = [
        days_between(local(2, 10), local(2, 15)),
        days_between(local(2, 15), local(2, 28, 22)),
    ]
    c2_gaps = [days_between(local(2, 2), local(3, 1))]
    program_gaps = sorted(c1_gaps + c2_gaps + c3_gaps)
    program_median = (program_gaps[2] + program_gaps[3]) / 2
    c3_median = sum(c3_gaps) / 2

    churn = selectors.churn_risk(period=quarter)

    assert churn.as_of == as_of
    assert churn.program_median_gap_days == pytest.approx(program_median)
    # c5 (one visit) and c6 (none, silent since enrolment) against the programme's median;
    # c3 (three visits) against its own. c1 (silent 19.5 days, median 26.5) and c2 (30.5
    # against 2 x 19.9) are fine; c4 is trashed.
    assert churn.at_risk_count == 3
    assert [
        (card.number, card.visits, card.own_median, card.last_visit_at) for card in churn.at_risk
    ] == [
        (cards["c5"].number, 1, False, local(1, 10)),
        (cards["c6"].number, 0, False, None),
        (cards["c3"].number, 3, True, local(2, 28, 22)),
    ]
    c5, c6, c3 = churn.at_risk
    assert c5.silence_days == pytest.approx(days_between(local(1, 10), as_of))
    assert c5.median_gap_days == pytest.approx(program_median)
    assert c6.silence_days == pytest.approx(days_between(local(1, 20), as_of))
    assert c6.enrolled_at == local(1, 20)
    assert c3.silence_days == pytest.approx(days_between(local(2, 28, 22), as_of))
    assert c3.median_gap_days == pytest.approx(c3_median)
    assert c1_gaps[1] * 2 > days_between(local(3, 12), as_of)


def test_churn_lists_at_most_the_limit_and_still_counts_every_card(history, quarter):
    churn = selectors.churn_risk(period=quarter, limit=1)

    assert churn.at_risk_count == 3
    assert [card.number for card in churn.at_risk] == [history["cards"]["c5"].number]


def test_churn_is_a_snapshot_at_the_end_of_the_range(history):
    cards = history["cards"]
    mid_february = Period(
        merchant=history["merchant"],
        date_from=datetime.date(2026, 2, 1),
        date_to=datetime.date(2026, 2, 15),
    )

    churn = selectors.churn_risk(period=mid_february)

    # By then only c1 (26.5 days) and c3 (5 days) had a gap: the median is their mean.
    program_median = (
        days_between(local(1, 5), local(1, 31, 23, 30)) + days_between(local(2, 10), local(2, 15))
    ) / 2
    assert churn.program_median_gap_days == pytest.approx(program_median)
    # c5, silent since 10 January (36.5 days), is past twice that (31.5); c6, enrolled on
    # 20 January (26.5 days), not yet.
    assert [card.number for card in churn.at_risk] == [cards["c5"].number]

    early_march = Period(
        merchant=history["merchant"],
        date_from=datetime.date(2026, 2, 1),
        date_to=datetime.date(2026, 3, 5),
    )
    assert [card.number for card in selectors.churn_risk(period=early_march).at_risk] == [
        cards["c5"].number,
        cards["c6"].number,
    ]


def test_churn_of_one_store_lists_the_cards_it_enrolled(history, quarter):
    north = Period(**{**quarter.__dict__, "store": history["north"]})

    churn = selectors.churn_risk(period=north)

    assert [card.number for card in churn.at_risk] == [history["cards"]["c3"].number]


def test_revenue_counts_purchases_on_earns_that_stand_per_store_and_local_month(history, quarter):
    revenue = selectors.revenue_attribution(period=quarter)

    # January at main: c1's 10.00 and 20.00 (31 Jan 23:30 local) and c5's 30.00. February at
    # north: c3's 7.00 (28 Feb 22:00); its voided 5.00 is not revenue.
    assert [
        (line.month, line.store_code, line.revenue_cents, line.purchases, line.members)
        for line in revenue.by_store
    ] == [(JAN, "main", 6000, 3, 2), (FEB, "north", 700, 1, 1)]
    assert revenue.by_store[0].store_name == "Main street"
    assert revenue.by_store[0].per_member_cents == 3000
    assert [
        (line.month, line.revenue_cents, line.purchases, line.members) for line in revenue.by_month
    ] == [(JAN, 6000, 3, 2), (FEB, 700, 1, 1)]
    total = revenue.total
    assert (total.revenue_cents, total.purchases, total.members) == (6700, 4, 3)
    assert total.per_member_cents == pytest.approx(6700 / 3)


def test_revenue_of_one_store(history, quarter):
    north = Period(**{**quarter.__dict__, "store": history["north"]})

    revenue = selectors.revenue_attribution(period=north)

    assert [(line.month, line.store_code, line.revenue_cents) for line in revenue.by_store] == [
        (FEB, "north", 700)
    ]
    assert revenue.total.revenue_cents == 700


def test_health_counts_enrolments_and_points_per_local_day(quarter):
    health = selectors.programme_health(period=quarter)

    assert len(health.days) == 90
    assert health.days[0].day == datetime.date(2026, 1, 1)
    assert health.days[-1].day == datetime.date(2026, 3, 31)
    busy = {
        day.day: (day.enrolments, day.points_issued, day.points_redeemed, day.points_expired)
        for day in health.days
        if (day.enrolments, day.points_issued, day.points_redeemed, day.points_expired)
        != (0, 0, 0, 0)
    }
    assert busy == {
        datetime.date(2026, 1, 5): (1, 10, 0, 0),
        datetime.date(2026, 1, 10): (0, 30, 0, 0),
        datetime.date(2026, 1, 20): (1, 0, 0, 0),
        # c2 enrolled at 23:00 and c1 earned at 23:30: still 31 January in New York.
        datetime.date(2026, 1, 31): (1, 20, 0, 0),
        datetime.date(2026, 2, 10): (1, 5, 0, 0),
        # The void of c3's earn takes its 5 points back out of what was issued.
        datetime.date(2026, 2, 11): (0, -5, 0, 0),
        datetime.date(2026, 2, 20): (1, 50, 0, 0),
        datetime.date(2026, 2, 28): (0, 7, 0, 0),
        datetime.date(2026, 3, 5): (0, -3, 0, 0),
        datetime.date(2026, 3, 10): (0, 0, 20, 0),
        # 12 March: a redemption of 10 and its void, nothing redeemed in all.
        datetime.date(2026, 3, 20): (0, 0, 0, 10),
    }


def test_health_totals_and_rates(quarter):
    health = selectors.programme_health(period=quarter)

    assert health.enrolments == 5
    assert (health.points_issued, health.points_redeemed, health.points_expired) == (114, 20, 10)
    assert health.redemption_rate == pytest.approx(20 / 114)
    assert health.redemption_is_healthy is False
    # c2 and c3 collected stamps; c2 reached the target of 5.
    assert (health.stamp_cards, health.stamp_cards_completed) == (2, 1)
    assert health.stamp_completion_rate == 0.5
    # Visits since 2 March 00:00: c1's. c2's last was 1 March 12:00. c4 is trashed.
    assert (health.active_cards, health.live_cards) == (1, 5)


def test_health_of_one_store_counts_its_enrolments_and_rows(history, quarter):
    north = Period(**{**quarter.__dict__, "store": history["north"]})

    health = selectors.programme_health(period=north)

    assert health.enrolments == 2
    # c3's earns (5 - 5 + 7) and c4's welcome bonus; the expiry has no store.
    assert (health.points_issued, health.points_redeemed, health.points_expired) == (57, 0, 0)
    assert (health.stamp_cards, health.stamp_cards_completed) == (1, 0)
    assert (health.active_cards, health.live_cards) == (0, 1)


def test_an_empty_range_has_no_figures(history):
    june = Period(
        merchant=history["merchant"],
        date_from=datetime.date(2025, 6, 1),
        date_to=datetime.date(2025, 6, 30),
    )

    assert selectors.cohort_retention(period=june) == []
    churn = selectors.churn_risk(period=june)
    assert (churn.at_risk_count, churn.at_risk, churn.program_median_gap_days) == (0, [], None)
    revenue = selectors.revenue_attribution(period=june)
    assert (revenue.by_store, revenue.by_month) == ([], [])
    assert (revenue.total.revenue_cents, revenue.total.members) == (0, 0)
    assert revenue.total.per_member_cents is None
    health = selectors.programme_health(period=june)
    assert len(health.days) == 30
    assert {(d.enrolments, d.points_issued, d.points_redeemed) for d in health.days} == {(0, 0, 0)}
    assert (health.redemption_rate, health.stamp_completion_rate) == (None, None)
    assert health.redemption_is_healthy is None
    assert (health.active_cards, health.live_cards) == (0, 0)


def test_a_merchant_without_data_has_no_figures(history, quarter):
    newcomer = Period(**{**quarter.__dict__, "merchant": MerchantFactory()})

    assert selectors.cohort_retention(period=newcomer) == []
    assert selectors.churn_risk(period=newcomer).at_risk_count == 0
    assert selectors.revenue_attribution(period=newcomer).total.purchases == 0
    health = selectors.programme_health(period=newcomer)
    assert (health.enrolments, health.points_issued, health.live_cards) == (0, 0, 0)


def test_a_merchants_figures_hold_only_its_own_rows(history, quarter):
    """The rival visited daily with 100.00 purchases: none of it is Alice's, and none of
    Alice's is the rival's."""
    rival = Period(**{**quarter.__dict__, "merchant": history["rival"]})

    assert selectors.revenue_attribution(period=quarter).total.revenue_cents == 6700
    rival_revenue = selectors.revenue_attribution(period=rival)
    assert rival_revenue.total.revenue_cents == 89 * 10_000
    assert {line.store_code for line in rival_revenue.by_store} == {"main"}
    assert rival_revenue.total.members == 1
    assert [(c.month, c.cards) for c in selectors.cohort_retention(period=rival)] == [(JAN, 1)]
    rival_health = selectors.programme_health(period=rival)
    assert (rival_health.enrolments, rival_health.points_issued) == (1, 8900)
    assert (rival_health.stamp_cards, rival_health.live_cards) == (1, 1)
    rival_churn = selectors.churn_risk(period=rival)
    # Its visits alternate 6 and 18 hours apart (89 and 88 gaps): a median of 6 hours, and
    # its day of silence since 30 March 18:00 (New York) is more than twice that.
    assert rival_churn.program_median_gap_days == pytest.approx(0.25)
    assert [card.number for card in rival_churn.at_risk] == [history["rival_card"].number]


@pytest.mark.parametrize(
    ("date_from", "date_to", "field"),
    [
        (datetime.date(2026, 2, 2), datetime.date(2026, 2, 1), "date_from"),
        (
            datetime.date(2023, 1, 1),
            datetime.date(2023, 1, 1) + datetime.timedelta(MAX_DAYS),
            "date_to",
        ),
    ],
)
def test_a_period_refuses_a_reversed_or_too_long_range(db, date_from, date_to, field):
    with pytest.raises(InvalidInput) as refused:
        Period(merchant=MerchantFactory(), date_from=date_from, date_to=date_to)

    assert list(refused.value.fields) == [field]


def test_a_period_refuses_another_merchants_store(db):
    with pytest.raises(InvalidInput) as refused:
        Period(
            merchant=MerchantFactory(),
            date_from=datetime.date(2026, 1, 1),
            date_to=datetime.date(2026, 1, 31),
            store=StoreFactory(),
        )

    assert list(refused.value.fields) == ["store"]
