"""The project's URLs and one that fails, to see the 500 page."""

from django.urls import path

from config.urls import handler404, urlpatterns  # noqa: F401


def fail(request):
    raise RuntimeError("a failing view")


urlpatterns = [*urlpatterns, path("fail/", fail)]
