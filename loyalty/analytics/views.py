"""The merchant's analytics page in the admin: charts over tables that read without them."""

from decimal import Decimal
from urllib.parse import urlencode

from django.contrib import admin
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from loyalty.analytics import selectors
from loyalty.analytics.forms import PeriodForm
from merchants.access import merchant_access
from merchants.models import Merchant

AT_RISK_SHOWN = 50
# Retention shares in tenths, for the heatmap's colour classes.
HEAT_STEPS = 10


def merchant_analytics(request, merchant_id: int):
    merchant = get_object_or_404(Merchant, pk=merchant_id)
    access = merchant_access(request.user, merchant)
    if access is None:
        # As if the merchant did not exist: staff of one merchant learn nothing of another.
        raise Http404
    form = PeriodForm(request.GET or None, access=access)
    period = form.period()
    cohorts = selectors.cohort_retention(period=period)
    churn = selectors.churn_risk(period=period, limit=AT_RISK_SHOWN)
    revenue = selectors.revenue_attribution(period=period)
    health = selectors.programme_health(period=period)

    query = {"merchant": merchant.slug, "date_from": period.date_from, "date_to": period.date_to}
    if period.store is not None:
        query["store"] = period.store.code
    csv_links = {
        name: reverse(f"analytics-{name}") + "?" + urlencode({**query, "format": "csv"})
        for name in ("cohorts", "churn", "revenue", "health")
    }
    longest = max((len(cohort.active) for cohort in cohorts), default=0)
    context = {
        **admin.site.each_context(request),
        "title": _("Analytics: %(merchant)s") % {"merchant": merchant.name},
        "merchant": merchant,
        "merchant_change_url": reverse("admin:merchants_merchant_change", args=[merchant.pk])
        if request.user.has_perm("merchants.view_merchant")
        else None,
        "form": form,
        "period": period,
        "data_as_of": selectors.data_as_of(period),
        "cohorts": [_cohort_row(cohort, longest) for cohort in cohorts],
        "cohort_offsets": range(longest),
        "churn": churn,
        "at_risk": [
            (card, reverse("admin:loyalty_card_change", args=[card.card_id]))
            for card in churn.at_risk
        ],
        "at_risk_shown": AT_RISK_SHOWN,
        "revenue_lines": {
            "by_store": [_money(line) for line in revenue.by_store],
            "by_month": [_money(line) for line in revenue.by_month],
            "total": _money(revenue.total),
        },
        "health": health,
        "healthy_redemption_rate": selectors.HEALTHY_REDEMPTION_RATE,
        "csv_links": csv_links,
        "chart_data": _chart_data(revenue, health),
    }
    return TemplateResponse(request, "admin/analytics/merchant.html", context)


def _cohort_row(cohort: selectors.Cohort, longest: int) -> dict:
    cells = [
        {
            "active": active,
            "share": share,
            "heat": round(share * HEAT_STEPS) if share is not None else 0,
        }
        for active, share in zip(cohort.active, cohort.shares, strict=True)
    ]
    return {"cohort": cohort, "cells": cells, "blanks": range(longest - len(cells))}


def _money(line: selectors.RevenueLine) -> dict:
    """A revenue line with its amounts in euros, as the tables show them."""
    per_member = line.per_member_cents
    return {
        **line.__dict__,
        "revenue": Decimal(line.revenue_cents) / 100,
        "per_member": None if per_member is None else Decimal(per_member) / 100,
    }


def _chart_data(revenue: selectors.Revenue, health: selectors.Health) -> dict:
    """What the charts draw, as JSON for static/analytics/charts.js."""
    months = sorted({line.month.strftime("%Y-%m") for line in revenue.by_store})
    stores = sorted({line.store_code for line in revenue.by_store})
    cents = {
        (line.month.strftime("%Y-%m"), line.store_code): line.revenue_cents
        for line in revenue.by_store
    }
    days = [day.day.isoformat() for day in health.days]
    return {
        "enrolments": {
            "labels": days,
            "series": [
                {"label": _("Enrolments"), "values": [day.enrolments for day in health.days]}
            ],
        },
        "points": {
            "labels": days,
            "series": [
                {
                    "label": _("Points issued"),
                    "values": [day.points_issued for day in health.days],
                },
                {
                    "label": _("Points redeemed"),
                    "values": [day.points_redeemed for day in health.days],
                },
                {
                    "label": _("Points expired"),
                    "values": [day.points_expired for day in health.days],
                },
            ],
        },
        "revenue": {
            "labels": months,
            "series": [
                {
                    "label": store,
                    "values": [cents.get((month, store), 0) / 100 for month in months],
                }
                for store in stores
            ],
        },
    }
