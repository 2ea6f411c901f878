from django.contrib import admin
from django.urls import path

from loyalty.analytics import views

urlpatterns = [
    path(
        "<int:merchant_id>/",
        admin.site.admin_view(views.merchant_analytics),
        name="analytics-merchant",
    ),
]
