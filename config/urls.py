from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health, metrics
from loyalty.operations_api.urls import admin_urlpatterns, merchant_urlpatterns
from loyalty.wallet import views as wallet_views

urlpatterns = [
    path("admin/analytics/", include("loyalty.analytics.admin_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/merchant/analytics/", include("loyalty.analytics.urls")),
    path("api/v1/terminal/", include("loyalty.api.urls")),
    path(
        "api/v1/admin/wallet-status/",
        wallet_views.WalletStatusView.as_view(),
        name="admin-wallet-status",
    ),
    path("card/<str:token>/wallet/", wallet_views.add_to_wallet, name="card-wallet"),
    path("api/v1/merchant/", include(merchant_urlpatterns)),
    path("api/v1/admin/", include(admin_urlpatterns)),
    # ESP delivery webhooks: /anymail/<esp>/tracking/, behind ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
    path("email/", include("messaging.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (?script), so
    # the Content-Security-Policy needs no inline script for the docs.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api_docs/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz/", health.readyz, name="readyz"),
    # Prometheus scrapes, behind METRICS_TOKEN or METRICS_ALLOWED_IPS.
    path("metrics", metrics.metrics, name="metrics"),
    # Customer pages: /, /enroll/<merchant>/, /card/<token>/, /card/lost/, each also under a
    # language prefix (/fr/...).
    path("", include("loyalty.pages.urls")),
    # The counter tablet: /counter/, /counter/pair/, each also under a language prefix (the
    # `lang` converter the customer pages' urls register, above).
    path("", include("loyalty.counter.urls")),
]

handler404 = "loyalty.pages.views.not_found"
