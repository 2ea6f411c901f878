"""Email templates: which one an email uses, the 36 seeded defaults, and templates refused
when they would not render."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from loyalty import emails
from messaging.models import EmailTemplate
from messaging.rendering import CompiledTemplate
from messaging.services.sending import resolve_template
from tests.factories import MerchantFactory, StoreFactory

# The seeded templates, made again: a transactional test empties every table when it ends.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("email_templates")]

CODES = sorted(emails.SAMPLE_CONTEXTS)
LOCALES = ["en", "fr", "de", "lb"]
GREETINGS = {"en": "Hello Nina,", "fr": "Bonjour Nina,", "de": "Hallo Nina,", "lb": "Moien Nina,"}
CARD_LINK_WORDS = {
    "en": "See my card",
    "fr": "Voir ma carte",
    "de": "Meine Karte ansehen",
    "lb": "Meng Kaart ukucken",
}


def template(code="test_code", locale="en", merchant=None, store=None, active=True):
    return EmailTemplate.objects.create(
        code=code,
        locale=locale,
        merchant=merchant,
        store=store,
        subject=f"{locale} {store or merchant or 'default'}",
        text_body="text",
        html_body="<p>html</p>",
        is_active=active,
    )


def test_the_store_override_wins_then_the_merchant_then_the_default_then_english(
    merchant, store, other_store
):
    default_en = template(locale="en")
    default_fr = template(locale="fr")
    merchant_fr = template(locale="fr", merchant=merchant)
    merchant_en = template(locale="en", merchant=merchant)
    store_fr = template(locale="fr", merchant=merchant, store=store)
    template(locale="de", merchant=merchant, store=store, active=False)
    other_merchant = MerchantFactory()

    def resolve(locale, merchant_id, store_id):
        return resolve_template(
            code="test_code", locale=locale, merchant_id=merchant_id, store_id=store_id
        )

    assert resolve("fr", merchant.pk, store.pk) == store_fr
    assert resolve("fr", merchant.pk, other_store.pk) == merchant_fr
    assert resolve("fr", merchant.pk, None) == merchant_fr
    assert resolve("fr", other_merchant.pk, None) == default_fr
    assert resolve("en", merchant.pk, store.pk) == merchant_en
    # No German anywhere active (the store's is off): the English platform default, not
    # the merchant's English override.
    assert resolve("de", merchant.pk, store.pk) == default_en
    assert resolve_template(code="other", locale="en", merchant_id=None, store_id=None) is None


def test_another_locale_falls_back_to_the_english_default_only(merchant, store):
    default_en = template(locale="en")
    template(locale="de")
    merchant_en = template(locale="en", merchant=merchant)

    def resolve(code, locale):
        return resolve_template(code=code, locale=locale, merchant_id=merchant.pk, store_id=None)

    # Not the German default, which sorts before English.
    assert resolve("test_code", "fr") == default_en
    # Without an English default, the merchant's English override stands in for nothing.
    template(code="no_default", locale="en", merchant=merchant)
    template(code="no_default", locale="en", merchant=merchant, store=store)
    assert resolve("no_default", "fr") is None
    assert resolve("test_code", "en") == merchant_en


def test_an_override_of_another_merchants_store_is_never_used(merchant, store):
    default_fr = template(locale="fr")
    rival_store = StoreFactory()
    template(locale="fr", merchant=rival_store.merchant, store=rival_store)

    assert (
        resolve_template(code="test_code", locale="fr", merchant_id=merchant.pk, store_id=store.pk)
        == default_fr
    )


def test_36_defaults_are_seeded_one_per_code_and_locale():
    seeded = EmailTemplate.objects.filter(merchant__isnull=True, store__isnull=True)

    assert sorted(seeded.values_list("code", "locale")) == sorted(
        (code, locale) for code in CODES for locale in LOCALES
    )


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("code", CODES)
def test_each_seeded_template_renders_its_sample_in_its_locale(code, locale):
    row = EmailTemplate.objects.get(code=code, locale=locale, merchant=None, store=None)
    row.full_clean()
    sample = emails.SAMPLE_CONTEXTS[code]

    rendered = CompiledTemplate(row).render(sample)

    assert rendered.subject and "{" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.text.startswith(GREETINGS[locale] + "\n")
    assert f"{CARD_LINK_WORDS[locale]}" in rendered.text
    assert sample["card_url"] in rendered.text
    assert f'<html lang="{locale}">' in rendered.html
    assert f'href="{sample["card_url"]}"' in rendered.html
    assert "Alice&#x27;s Bakery" in rendered.html  # escaped in HTML ...
    assert "Alice's Bakery" in rendered.text  # ... and not in text
    for part in (rendered.text, rendered.html):
        assert "{{" not in part and "{%" not in part
    if code in emails.MARKETING:
        assert sample["unsubscribe_url"] in rendered.text
        assert f'href="{sample["unsubscribe_url"]}"' in rendered.html
    else:
        assert "unsubscribe" not in rendered.html


def test_re_running_the_seed_keeps_an_operators_edit():
    edited = EmailTemplate.objects.get(code=emails.BIRTHDAY, locale="fr", merchant=None)
    edited.subject = "Bon anniversaire, {{ first_name }} !"
    edited.save()
    EmailTemplate.objects.filter(code=emails.REENGAGEMENT, locale="lb").delete()

    migration = importlib.import_module("loyalty.migrations.0015_default_email_templates")
    migration.seed_templates(apps, None)

    edited.refresh_from_db()
    assert edited.subject == "Bon anniversaire, {{ first_name }} !"
    assert EmailTemplate.objects.count() == 36


@pytest.mark.parametrize(
    ("part", "source", "message"),
    [
        ("subject", "Hello {% if first_name %}", "Template error: Unclosed tag"),
        ("text_body", "{{ first_name|no_such_filter }}", "Invalid filter: 'no_such_filter'"),
        (
            "html_body",
            "<p>{{ frist_name }}</p>",
            "Unknown variable frist_name; the variables of loyalty_enrollment are: card_number, "
            "card_url, first_name,",
        ),
        ("html_body", "{% include 'admin/base.html' %}", "TemplateDoesNotExist"),
        ("text_body", "{% load static %}", "'static' is not a registered tag library"),
    ],
)
def test_a_template_that_does_not_render_is_refused_with_the_reason(part, source, message):
    row = EmailTemplate.objects.get(code=emails.ENROLLMENT, locale="en", merchant=None)
    setattr(row, part, source)

    with pytest.raises(ValidationError) as refused:
        row.full_clean()

    [error] = refused.value.message_dict[part]
    assert message in error


def test_a_template_of_an_unknown_code_is_refused():
    row = EmailTemplate(
        code="loyalty_nothing", locale="en", subject="s", text_body="t", html_body="h"
    )

    with pytest.raises(ValidationError) as refused:
        row.full_clean()

    assert refused.value.message_dict["code"][0].startswith("Unknown email code 'loyalty_nothing'")


def test_a_store_override_must_name_the_stores_merchant(merchant):
    row = EmailTemplate.objects.get(code=emails.ENROLLMENT, locale="en", merchant=None)
    row.pk = None
    row.store = StoreFactory()
    row.merchant = merchant

    with pytest.raises(ValidationError) as refused:
        row.full_clean()

    assert refused.value.message_dict["store"] == ["The store belongs to another merchant."]
