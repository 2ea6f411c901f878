from django.urls import path

from loyalty.counter import views

app_name = "counter"

# Each page at its own address, in the browser's language, and under a language prefix.
_PAGES = [
    ("counter/", views.counter, "counter"),
    ("counter/pair/", views.pair, "pair"),
]

urlpatterns = [
    *(path(route, view, name=name) for route, view, name in _PAGES),
    *(path(f"<lang:lang>/{route}", view, name=name) for route, view, name in _PAGES),
]
