"""Which language a customer page speaks.

In order: the customer's own choice (the preferred language given at enrolment, on the card
page and the enrolment's success page), then the URL's language prefix (`/fr/enroll/...`, what
the language switcher links to), then the browser's Accept-Language, then English. On the
card page a prefix wins over the stored preference: following the switcher is a choice too.

Only the customer pages are translated this way: the admin and the APIs keep their language.
"""

import functools

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers

CODES = [code for code, _ in settings.LANGUAGES]
# Each language named in itself, for the switcher and the preferred-language field.
AUTONYMS = {"en": "English", "fr": "Français", "de": "Deutsch", "lb": "Lëtzebuergesch"}


class LanguageConverter:
    regex = "|".join(CODES)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def page_view(view):
    """Run a page view in its language: the URL's prefix (the `lang` argument) or, without
    one, the browser's. The view may activate the customer's own choice instead."""

    @functools.wraps(view)
    def in_language(request, *args, lang=None, **kwargs):
        request.url_language = lang
        with translation.override(lang or translation.get_language_from_request(request)):
            response = view(request, *args, **kwargs)
            response.headers.setdefault("Content-Language", translation.get_language())
        if lang is None:
            patch_vary_headers(response, ["Accept-Language"])
        return response

    return in_language


def use_customer_language(request, locale: str) -> None:
    """Speak the customer's preferred language, unless the URL asked for one."""
    if request.url_language is None and locale in CODES:
        translation.activate(locale)


def language_links(request) -> list[dict]:
    """The current page in each language (the landing page where there is no such page)."""
    match = getattr(request, "resolver_match", None)
    current = translation.get_language()
    links = []
    for code in CODES:
        url = None
        if match is not None and match.namespace in ("pages", "counter"):
            try:
                url = reverse(match.view_name, kwargs={**match.kwargs, "lang": code})
            except NoReverseMatch:
                url = None
            if url and request.GET:
                url = f"{url}?{request.GET.urlencode()}"
        links.append(
            {
                "code": code,
                "name": AUTONYMS[code],
                "url": url or reverse("pages:landing", kwargs={"lang": code}),
                "current": code == current,
            }
        )
    return links
