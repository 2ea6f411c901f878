from django.urls import path, register_converter

from loyalty.pages import views
from loyalty.pages.language import LanguageConverter

register_converter(LanguageConverter, "lang")

app_name = "pages"

# Each page at its own address, in the browser's language, and under a language prefix.
_PAGES = [
    ("", views.landing, "landing"),
    ("enroll/<slug:slug>/", views.enroll, "enroll"),
    ("enroll/<slug:slug>/welcome/", views.enrolled, "enrolled"),
    ("card/lost/", views.lost_card, "lost_card"),
    ("card/<str:token>/", views.card, "card"),
]

urlpatterns = [
    *(path(route, view, name=name) for route, view, name in _PAGES),
    *(path(f"<lang:lang>/{route}", view, name=name) for route, view, name in _PAGES),
    path("brand/<slug:slug>/logo/", views.merchant_logo, name="merchant_logo"),
    path("enroll/<slug:slug>/started/", views.enroll_started, name="enroll_started"),
]
