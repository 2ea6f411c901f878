"""Dates and numbers written as each language writes them (CLDR's data, through Babel): Django
has no formats for Luxembourgish, and groups digits only when told to everywhere."""

from babel.dates import format_date
from babel.numbers import format_decimal
from django import template
from django.utils import translation

register = template.Library()


def _locale() -> str:
    return translation.get_language() or "en"


@register.filter
def local_date(value, length: str = "long") -> str:
    """17 April 2027, 17 avril 2027, 17. April 2027, 17. Abrëll 2027 (or "medium": shorter)."""
    if value in (None, ""):
        return ""
    return format_date(value, format=length, locale=_locale())


@register.filter
def local_number(value) -> str:
    """1,250 / 1 250 / 1.250, with the sign kept."""
    if value in (None, ""):
        return ""
    return format_decimal(value, locale=_locale())


@register.filter
def signed_number(value) -> str:
    """+12 or −12, localised."""
    number = local_number(abs(value))
    return f"+{number}" if value > 0 else f"−{number}" if value < 0 else number
