"""The analytics summaries: what a refresh writes, that it is exact at month boundaries in the
merchant's time zone and inside months, idempotent, limited to its as-of and to its merchant;
the periodic job. The figures' own tests (test_analytics_figures.py) read them too."""

import datetime

import pytest

from loyalty.analytics import selectors
from loyalty.analytics.periods import Period
from loyalty.models import (
    AnalyticsCardMonth,
    AnalyticsCardStoreMonth,
    AnalyticsCardVisits,
    AnalyticsDay,
    AnalyticsMonth,
    AnalyticsSnapshot,
    TaskRun,
)
from loyalty.services.analytics_summaries import refresh_analytics
from loyalty.tasks import refresh_analytics as refresh_analytics_task
from tests.analytics_history import AS_OF, build_history, local
from tests.factories import CardFactory, TransactionFactory

JAN, FEB, MAR = datetime.date(2026, 1, 1), datetime.date(2026, 2, 1), datetime.date(2026, 3, 1)
SUMMARIES = (
    AnalyticsDay,
    AnalyticsCardMonth,
    AnalyticsCardStoreMonth,
    AnalyticsMonth,
    AnalyticsCardVisits,
)


def bits(*days: int) -> int:
    return sum(1 << (day - 1) for day in days)


@pytest.fixture
def history(db):
    return build_history()


def period(history, date_from, date_to, store=None) -> Period:
    return Period(
        merchant=history["merchant"],
        date_from=date_from,
        date_to=date_to,
        store=history[store] if store else None,
    )


def rows_of(merchant) -> dict[str, list[dict]]:
    """Every summary row of the merchant, without the ids a rewrite renumbers."""
    return {
        model.__name__: sorted(
            (
                {k: v for k, v in row.items() if k != "id"}
                for row in model.objects.filter(merchant=merchant).values()
            ),
            key=repr,
        )
        for model in SUMMARIES
    }


def test_a_refresh_writes_days_months_and_visits_in_the_merchants_time_zone(history):
    merchant, cards = history["merchant"], history["cards"]
    c1, c3 = cards["c1"], cards["c3"]

    # c1's 31 January 23:30 earn (1 February in UTC) is January's, on the 31st.
    assert AnalyticsCardMonth.objects.filter(card=c1).values_list(
        "month", "visit_days", "purchase_days", "stamp_days"
    ).order_by("month")[0] == (JAN, bits(5, 31), bits(5, 31), 0)
    # c3's voided earn of 10 February is a visit but no purchase; its 28 February 22:00 earn
    # (1 March in UTC) is February's.
    assert AnalyticsCardMonth.objects.filter(card=c3).values_list(
        "month", "enrolled_on", "visit_days", "purchase_days", "stamp_days"
    ).get() == (FEB, datetime.date(2026, 2, 10), bits(10, 15, 28), bits(28), bits(15))
    # c2's stamp of 1 March reached the target of 5.
    assert AnalyticsCardStoreMonth.objects.filter(card=cards["c2"], month=MAR).values_list(
        "store__code", "stamp_days", "completion_days"
    ).get() == ("main", bits(1), bits(1))
    day = AnalyticsDay.objects.filter(
        merchant=merchant, day=datetime.date(2026, 1, 31), store=history["main"]
    )
    # The ledger's row and the enrolments' row of the day (c2 enrolled at 23:00).
    assert sorted(day.values_list("enrolments", "points_issued", "revenue_cents", "purchases")) == [
        (0, 20, 2000, 1),
        (1, 0, 0, 0),
    ]
    assert AnalyticsDay.objects.get(merchant=merchant, store=None).points_expired == 10
    # The cards that bought, per store and month and per month (store null): c1 and c5 in
    # January, c3 in February (its voided purchase of the 10th is none).
    assert sorted(
        AnalyticsMonth.objects.filter(merchant=merchant).values_list(
            "month", "store__code", "members"
        ),
        key=repr,
    ) == sorted([(JAN, "main", 2), (JAN, None, 2), (FEB, "north", 1), (FEB, None, 1)], key=repr)
    assert AnalyticsCardVisits.objects.get(card=c1).visits == 4
    assert AnalyticsCardVisits.objects.get(card=c1).last_visit_at == local(3, 12)
    snapshot = AnalyticsSnapshot.objects.get(merchant=merchant)
    assert snapshot.as_of == AS_OF
    assert selectors.data_as_of(period(history, JAN, MAR)) == AS_OF


def test_a_second_refresh_with_the_same_as_of_writes_the_same_rows(history):
    merchant = history["merchant"]
    before = rows_of(merchant)
    figures = selectors.revenue_attribution(period=period(history, JAN, datetime.date(2026, 3, 31)))

    refresh_analytics(merchant=merchant, as_of=AS_OF)

    assert rows_of(merchant) == before
    assert sum(len(rows) for rows in before.values()) > 20
    assert (
        selectors.revenue_attribution(period=period(history, JAN, datetime.date(2026, 3, 31)))
        == figures
    )


def test_a_refresh_counts_only_what_was_made_before_its_as_of(history):
    merchant = history["merchant"]
    february = local(2, 1, 0)

    refresh_analytics(merchant=merchant, as_of=february)

    quarter = period(history, JAN, datetime.date(2026, 3, 31))
    health = selectors.programme_health(period=quarter)
    # January's enrolments (c1, c6, c2 at 23:00 on the 31st) and points; c5 enrolled in
    # December.
    assert (health.enrolments, health.points_issued, health.points_redeemed) == (3, 60, 0)
    assert [(c.month, c.cards, c.active) for c in selectors.cohort_retention(period=quarter)] == [
        (JAN, 3, [1, 0, 0])
    ]
    assert selectors.revenue_attribution(period=quarter).total.revenue_cents == 6000
    assert selectors.data_as_of(quarter) == february


def test_a_later_refresh_takes_in_a_void_of_an_old_purchase(history):
    merchant, c1 = history["merchant"], history["cards"]["c1"]
    earn = c1.transactions.get(created_at=local(1, 5))
    TransactionFactory(
        card=c1,
        store=history["main"],
        type="points_voided",
        points_delta=-10,
        voids=earn,
        created_at=local(4, 2),
    )
    quarter = period(history, JAN, datetime.date(2026, 3, 31))
    assert selectors.revenue_attribution(period=quarter).total.revenue_cents == 6700

    refresh_analytics(merchant=merchant, as_of=local(4, 3))

    revenue = selectors.revenue_attribution(period=quarter)
    assert (revenue.total.revenue_cents, revenue.total.purchases) == (5700, 3)
    assert revenue.by_store[0].members == 2


def test_a_range_inside_months_counts_only_its_days(history):
    """Day bitmasks: a range starting on 31 January and ending on 28 February counts c1's
    31 January purchase (23:30 in New York) and nothing of c1's 5 January or c2's 1 March."""
    end_of_january = period(history, datetime.date(2026, 1, 31), datetime.date(2026, 2, 28))

    revenue = selectors.revenue_attribution(period=end_of_january)
    assert [
        (line.month, line.store_code, line.revenue_cents, line.purchases, line.members)
        for line in revenue.by_store
    ] == [(JAN, "main", 2000, 1, 1), (FEB, "north", 700, 1, 1)]
    assert revenue.total.members == 2
    # Enrolled in the range: c2 (31 January, visited on 2 February), c3 and c4 (February).
    assert [
        (c.month, c.cards, c.active) for c in selectors.cohort_retention(period=end_of_january)
    ] == [(JAN, 1, [0, 1]), (FEB, 2, [1])]
    health = selectors.programme_health(period=end_of_january)
    # c2's and c3's stamps; c2's completion came on 1 March.
    assert (health.stamp_cards, health.stamp_cards_completed) == (2, 0)
    # Visits from 30 January to 28 February: c1 (31 January), c2, c3.
    assert health.active_cards == 3

    january_but_the_31st = period(history, JAN, datetime.date(2026, 1, 30))
    revenue = selectors.revenue_attribution(period=january_but_the_31st)
    assert (revenue.total.revenue_cents, revenue.total.members) == (4000, 2)
    north = period(history, datetime.date(2026, 2, 11), datetime.date(2026, 2, 27), "north")
    # Only c3's stamp of the 15th: its earns of the 10th and 28th are outside, the void of
    # the first (the 11th) inside, and c4's welcome bonus of the 20th.
    health = selectors.programme_health(period=north)
    assert (health.stamp_cards, health.points_issued) == (1, -5 + 50)
    assert selectors.revenue_attribution(period=north).by_store == []


def test_churn_up_to_the_refresh_reads_the_stored_visits_and_agrees_with_the_ledger(history):
    merchant, cards = history["merchant"], history["cards"]
    quarter = period(history, JAN, datetime.date(2026, 3, 31))
    # The quarter ends at the refresh's as-of: the stored visits.
    stored = selectors.churn_risk(period=quarter)
    # A card enrolled since the refresh is not counted until the next one.
    CardFactory(program=cards["c1"].program, enrolled_store=history["main"])
    assert selectors.churn_risk(period=quarter).at_risk_count == stored.at_risk_count

    refresh_analytics(merchant=merchant, as_of=local(4, 2))
    # Now the quarter ends before the as-of: a snapshot of the past, from the ledger.
    from_ledger = selectors.churn_risk(period=quarter)

    assert [
        (card.number, card.visits, card.own_median, card.last_visit_at) for card in stored.at_risk
    ] == [
        (card.number, card.visits, card.own_median, card.last_visit_at)
        for card in from_ledger.at_risk
    ]
    assert [card.number for card in stored.at_risk] == [
        cards[name].number for name in ("c5", "c6", "c3")
    ]
    assert stored.program_median_gap_days == pytest.approx(from_ledger.program_median_gap_days)
    for kept, computed in zip(stored.at_risk, from_ledger.at_risk, strict=True):
        assert kept.silence_days == pytest.approx(computed.silence_days)
        assert kept.median_gap_days == pytest.approx(computed.median_gap_days)


def test_a_merchants_refresh_touches_only_its_own_summaries(history):
    merchant, rival = history["merchant"], history["rival"]
    rival_rows = rows_of(rival)
    rival_as_of = AnalyticsSnapshot.objects.get(merchant=rival).as_of

    refresh_analytics(merchant=merchant, as_of=local(4, 5))

    assert rows_of(rival) == rival_rows
    assert AnalyticsSnapshot.objects.get(merchant=rival).as_of == rival_as_of
    assert AnalyticsSnapshot.objects.get(merchant=merchant).as_of == local(4, 5)
    rival_card = history["rival_card"]
    for model in (AnalyticsCardMonth, AnalyticsCardStoreMonth, AnalyticsCardVisits):
        assert not model.objects.filter(merchant=merchant, card=rival_card).exists()
        assert model.objects.filter(merchant=rival, card=rival_card).exists()
    assert AnalyticsCardMonth.objects.filter(merchant=rival).count() == 3


def test_before_its_first_refresh_a_merchant_has_empty_figures(history):
    AnalyticsSnapshot.objects.filter(merchant=history["merchant"]).delete()
    for model in SUMMARIES:
        model.objects.filter(merchant=history["merchant"]).delete()
    quarter = period(history, JAN, datetime.date(2026, 3, 31))

    assert selectors.data_as_of(quarter) is None
    churn = selectors.churn_risk(period=quarter)
    assert (churn.at_risk_count, churn.program_median_gap_days) == (0, None)
    health = selectors.programme_health(period=quarter)
    assert (health.enrolments, health.live_cards, health.active_cards) == (0, 0, 0)


def test_the_periodic_job_refreshes_every_merchant_up_to_now_and_records_its_run(history):
    refresh_analytics_task.delay()

    run = TaskRun.objects.get(task="loyalty.refresh_analytics")
    assert run.status == TaskRun.Status.SUCCEEDED
    assert run.counts == {"merchants": 2, "card_months": 6 + 3}
    for merchant in (history["merchant"], history["rival"]):
        assert AnalyticsSnapshot.objects.get(merchant=merchant).as_of > AS_OF
