"""The merchant analytics API: `/api/v1/merchant/analytics/{cohorts,churn,revenue,health}/`.

Authenticated like the rest of `/api/v1/merchant/`: by token (`Authorization: Token <key>`)
or by the admin's session; for operators and the merchant's staff. Each table also as CSV
(`?format=csv` or `Accept: text/csv`). The figures are read from the summaries the hourly
refresh writes; each answer says up to when they count (`data_as_of`).
"""

import csv
import io

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.analytics import selectors
from loyalty.analytics.periods import MAX_DAYS, Period, period_for
from loyalty.api.serializers import ErrorOutput
from merchants.access import is_operator, merchant_access, visible_merchants
from merchants.errors import InvalidInput, NotFound
from merchants.models import Merchant

TAG = "Loyalty - Merchant"
CHURN_LIMIT_DEFAULT = 100
CHURN_LIMIT_MAX = 1000


class CSVRenderer(BaseRenderer):
    """A table (a header row, then rows) as CSV. Text that a spreadsheet would take for a
    formula (=, +, -, @) is quoted with a leading apostrophe."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out)
        for row in data:
            writer.writerow(
                "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@") else cell
                for cell in row
            )
        return out.getvalue().encode(self.charset)


# Input -------------------------------------------------------------------------------------


class PeriodQuery(serializers.Serializer):
    merchant = serializers.SlugField(
        required=False,
        help_text="The merchant's slug. Needed by operators and by staff of several merchants; "
        "staff of one merchant may leave it out.",
    )
    date_from = serializers.DateField(
        required=False,
        help_text="First day (merchant's time zone). Default: the first day of the month "
        "eleven months before date_to's.",
    )
    date_to = serializers.DateField(
        required=False,
        help_text=f"Last day, included (merchant's time zone). Default: today. A range is at "
        f"most {MAX_DAYS} days long.",
    )
    store = serializers.SlugField(
        required=False,
        help_text="A store's code: only that store's figures. Staff of one store always get "
        "their store's.",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"], required=False, help_text="csv: the table as a CSV download."
    )


class ChurnQuery(PeriodQuery):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=CHURN_LIMIT_MAX,
        default=CHURN_LIMIT_DEFAULT,
        help_text="At most this many at-risk cards in the list (the CSV has them all).",
    )


# Output ------------------------------------------------------------------------------------


DATA_AS_OF_HELP = (
    "The figures count the ledger rows and cards made before this instant (the last refresh "
    "of the summaries, hourly); null: not computed yet, every figure is empty."
)


class PeriodOutput(serializers.Serializer):
    merchant = serializers.CharField(source="merchant.slug")
    timezone = serializers.CharField(source="merchant.timezone")
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    store = serializers.CharField(
        source="store.code", default=None, allow_null=True, help_text="null: every store."
    )


class CohortOutput(serializers.Serializer):
    month = serializers.DateField(help_text="Enrolment month (its first day).")
    cards = serializers.IntegerField(help_text="Cards enrolled that month.")
    active = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Cards with a visit in the enrolment month (first) and each month after.",
    )
    shares = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="active / cards."
    )


class CohortsOutput(serializers.Serializer):
    period = PeriodOutput()
    data_as_of = serializers.DateTimeField(allow_null=True, help_text=DATA_AS_OF_HELP)
    cohorts = CohortOutput(many=True)


class AtRiskCardOutput(serializers.Serializer):
    number = serializers.CharField()
    visits = serializers.IntegerField()
    enrolled_at = serializers.DateTimeField()
    last_visit_at = serializers.DateTimeField(allow_null=True)
    silence_days = serializers.FloatField()
    median_gap_days = serializers.FloatField()
    own_median = serializers.BooleanField(
        help_text="false: fewer than 3 visits, measured against the programme's median."
    )


class ChurnOutput(serializers.Serializer):
    period = PeriodOutput()
    data_as_of = serializers.DateTimeField(allow_null=True, help_text=DATA_AS_OF_HELP)
    as_of = serializers.DateTimeField(
        help_text="The instant silences are measured to: the end of the range."
    )
    program_median_gap_days = serializers.FloatField(allow_null=True)
    at_risk_count = serializers.IntegerField()
    at_risk = AtRiskCardOutput(many=True)


class RevenueLineOutput(serializers.Serializer):
    month = serializers.DateField(allow_null=True)
    store = serializers.CharField(source="store_code", allow_null=True)
    store_name = serializers.CharField(allow_null=True)
    revenue_cents = serializers.IntegerField()
    purchases = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Distinct cards that bought.")
    per_member_cents = serializers.FloatField(allow_null=True)


class RevenueOutput(serializers.Serializer):
    period = PeriodOutput()
    data_as_of = serializers.DateTimeField(allow_null=True, help_text=DATA_AS_OF_HELP)
    by_store = RevenueLineOutput(many=True)
    by_month = RevenueLineOutput(many=True)
    total = RevenueLineOutput()


class HealthDayOutput(serializers.Serializer):
    day = serializers.DateField()
    enrolments = serializers.IntegerField()
    points_issued = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    points_expired = serializers.IntegerField()


class HealthOutput(serializers.Serializer):
    period = PeriodOutput()
    data_as_of = serializers.DateTimeField(allow_null=True, help_text=DATA_AS_OF_HELP)
    enrolments = serializers.IntegerField()
    points_issued = serializers.IntegerField()
    points_redeemed = serializers.IntegerField()
    points_expired = serializers.IntegerField()
    redemption_rate = serializers.FloatField(allow_null=True)
    redemption_is_healthy = serializers.BooleanField(
        allow_null=True, help_text=f"redemption_rate > {selectors.HEALTHY_REDEMPTION_RATE}."
    )
    stamp_cards = serializers.IntegerField()
    stamp_cards_completed = serializers.IntegerField()
    stamp_completion_rate = serializers.FloatField(allow_null=True)
    active_cards = serializers.IntegerField()
    live_cards = serializers.IntegerField()
    days = HealthDayOutput(many=True)


class WithPeriod:
    """Figures and the period they cover, read as one object by the output serializers."""

    def __init__(self, period: Period, figures):
        self.period = period
        self.data_as_of = selectors.data_as_of(period)
        self._figures = figures

    def __getattr__(self, name):
        return getattr(self._figures, name)


# Views -------------------------------------------------------------------------------------


def requested_merchant(user, slug: str | None) -> Merchant:
    """The merchant named, if the user may see it (else not found, as if it did not exist);
    without a name, the user's only merchant."""
    visible = visible_merchants(user)
    if slug:
        merchant = visible.filter(slug=slug).first()
        if merchant is None:
            raise NotFound("No such merchant.")
        return merchant
    candidates = [] if is_operator(user) else list(visible[:2])
    if len(candidates) != 1:
        raise InvalidInput(fields={"merchant": ["Name the merchant (its slug)."]})
    return candidates[0]


class AnalyticsView(APIView):
    # As the operations API: token first, so that an anonymous call is answered 401 with
    # `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, CSVRenderer]
    query_serializer = PeriodQuery
    table_name = ""

    def get(self, request):
        query = self.query_serializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        merchant = requested_merchant(request.user, params.get("merchant"))
        access = merchant_access(request.user, merchant)
        if access is None:
            raise NotFound("No such merchant.")
        period = period_for(
            access=access,
            date_from=params.get("date_from"),
            date_to=params.get("date_to"),
            store_code=params.get("store"),
        )
        if request.accepted_renderer.format == "csv":
            filename = f"{merchant.slug}-{self.table_name}-{period.date_from}-{period.date_to}.csv"
            return Response(
                self.table(period, params),
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Response(self.answer(period, params))

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force=force)
        except Http404 as unknown:
            # DRF answers an unknown ?format= with a 404; it is a bad parameter.
            raise serializers.ValidationError({"format": ["Either json or csv."]}) from unknown

    def handle_exception(self, exc):
        # Errors are JSON, whatever format the table was asked in.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)

    def answer(self, period: Period, params: dict) -> dict:
        raise NotImplementedError

    def table(self, period: Period, params: dict) -> list[list]:
        raise NotImplementedError


def _schema(output, description: str):
    return extend_schema(
        tags=[TAG],
        description=description,
        responses={
            (200, "application/json"): output,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The table."),
            400: OpenApiResponse(ErrorOutput, description="Invalid parameters (`invalid`)."),
            401: OpenApiResponse(
                ErrorOutput,
                description="`not_authenticated`, `authentication_failed`: no token or session.",
            ),
            404: OpenApiResponse(ErrorOutput, description="A merchant or store not yours."),
        },
    )


class CohortsView(AnalyticsView):
    table_name = "cohorts"

    @extend_schema(parameters=[PeriodQuery])
    @_schema(
        CohortsOutput,
        "Cards enrolled in the range, by enrolment month; for that month and each later one "
        "to the range's end, how many of them visited (earned or redeemed points or stamps).",
    )
    def get(self, request):
        return super().get(request)

    def answer(self, period, params):
        cohorts = selectors.cohort_retention(period=period)
        return CohortsOutput(
            {"period": period, "data_as_of": selectors.data_as_of(period), "cohorts": cohorts}
        ).data

    def table(self, period, params):
        rows = [["cohort", "cards", "month", "months_after_enrolment", "active_cards", "share"]]
        for cohort in selectors.cohort_retention(period=period):
            for offset, (active, share) in enumerate(
                zip(cohort.active, cohort.shares, strict=True)
            ):
                month = cohort.month.year * 12 + cohort.month.month - 1 + offset
                rows.append(
                    [
                        cohort.month,
                        cohort.cards,
                        f"{month // 12}-{month % 12 + 1:02d}",
                        offset,
                        active,
                        _decimal(share),
                    ]
                )
        return rows


class ChurnView(AnalyticsView):
    query_serializer = ChurnQuery
    table_name = "churn"

    @extend_schema(parameters=[ChurnQuery])
    @_schema(
        ChurnOutput,
        "Cards silent, at the end of the range, for more than twice their own median gap "
        "between visits (the programme's median for cards with fewer than 3 visits); most "
        "overdue first.",
    )
    def get(self, request):
        return super().get(request)

    def answer(self, period, params):
        churn = selectors.churn_risk(period=period, limit=params["limit"])
        return ChurnOutput(WithPeriod(period, churn)).data

    def table(self, period, params):
        rows = [
            [
                "card",
                "visits",
                "enrolled_at",
                "last_visit_at",
                "silence_days",
                "median_gap_days",
                "own_median",
            ]
        ]
        for card in selectors.churn_risk(period=period).at_risk:
            rows.append(
                [
                    card.number,
                    card.visits,
                    card.enrolled_at.isoformat(),
                    card.last_visit_at.isoformat() if card.last_visit_at else "",
                    f"{card.silence_days:.2f}",
                    f"{card.median_gap_days:.2f}",
                    "yes" if card.own_median else "no",
                ]
            )
        return rows


class RevenueView(AnalyticsView):
    table_name = "revenue"

    @extend_schema(parameters=[PeriodQuery])
    @_schema(
        RevenueOutput,
        "Purchase amounts recorded with points earned (voided earns left out), per store and "
        "month, per month and in all, with the distinct cards that bought and the average per "
        "member.",
    )
    def get(self, request):
        return super().get(request)

    def answer(self, period, params):
        revenue = selectors.revenue_attribution(period=period)
        return RevenueOutput(WithPeriod(period, revenue)).data

    def table(self, period, params):
        rows = [
            [
                "month",
                "store",
                "store_name",
                "revenue_cents",
                "purchases",
                "members",
                "per_member_cents",
            ]
        ]
        for line in selectors.revenue_attribution(period=period).by_store:
            rows.append(
                [
                    line.month,
                    line.store_code,
                    line.store_name,
                    line.revenue_cents,
                    line.purchases,
                    line.members,
                    _decimal(line.per_member_cents),
                ]
            )
        return rows


class HealthView(AnalyticsView):
    table_name = "health"

    @extend_schema(parameters=[PeriodQuery])
    @_schema(
        HealthOutput,
        "Enrolments and points issued, redeemed and expired per day; the redemption rate "
        "(healthy above 0.3), the stamp completion rate, and the cards active in the last 30 "
        "days of the range.",
    )
    def get(self, request):
        return super().get(request)

    def answer(self, period, params):
        health = selectors.programme_health(period=period)
        return HealthOutput(WithPeriod(period, health)).data

    def table(self, period, params):
        rows = [["day", "enrolments", "points_issued", "points_redeemed", "points_expired"]]
        for day in selectors.programme_health(period=period).days:
            rows.append(
                [
                    day.day,
                    day.enrolments,
                    day.points_issued,
                    day.points_redeemed,
                    day.points_expired,
                ]
            )
        return rows


def _decimal(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
