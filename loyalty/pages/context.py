"""What every page template may use: the site's name and the language switcher's links
(computed only when a template asks for them)."""

from django.conf import settings

from loyalty.pages.language import language_links


def pages(request) -> dict:
    return {
        "site_name": settings.SITE_NAME,
        "language_links": lambda: language_links(request),
    }
