from django.urls import path

from loyalty.analytics import api

urlpatterns = [
    path("cohorts/", api.CohortsView.as_view(), name="analytics-cohorts"),
    path("churn/", api.ChurnView.as_view(), name="analytics-churn"),
    path("revenue/", api.RevenueView.as_view(), name="analytics-revenue"),
    path("health/", api.HealthView.as_view(), name="analytics-health"),
]
