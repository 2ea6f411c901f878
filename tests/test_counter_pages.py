"""The counter's pages through Django's test client: the sentences handed to the script (one
for every code an API answer can carry, translated into each language with its placeholders
kept), the page in each language, and its Content-Security-Policy."""

import json
import re

import pytest
from django.utils import translation
from rest_framework import exceptions

import loyalty.errors  # noqa: F401 (every domain error class, for the walk below)
from loyalty.counter.messages import ACTIVITY, ERRORS, FIELDS, TEXTS, counter_texts
from loyalty.models import TransactionType
from merchants.errors import DomainError

# Raised by the operator admin and the operations API (trash, anonymisation, roles) or the
# wallet's own pages, never by the terminal API or the pairing.
NOT_FROM_THE_API = {
    "restore_conflict",
    "not_in_trash",
    "has_ledger_history",
    "already_anonymised",
    "not_allowed",
    "wallet_disabled",
}


def _domain_error_codes() -> set[str]:
    classes, found = [DomainError], set()
    while classes:
        cls = classes.pop()
        found.add(cls.code)
        classes.extend(cls.__subclasses__())
    return found


def _framework_codes() -> set[str]:
    """The codes DRF's own exceptions answer with (authentication, parsing, methods)."""
    return {
        cls.default_code
        for cls in vars(exceptions).values()
        if isinstance(cls, type)
        and issubclass(cls, exceptions.APIException)
        and cls is not exceptions.APIException
        and cls is not exceptions.ValidationError  # answered as "invalid" with its fields
    }


def test_every_code_an_answer_can_carry_has_a_sentence():
    import merchants.services  # noqa: F401 (its errors join the walk)

    codes = (_domain_error_codes() | _framework_codes() | {"too_large"}) - NOT_FROM_THE_API
    assert codes - set(ERRORS) == set()


def test_every_transaction_type_has_a_label():
    assert set(ACTIVITY) == set(TransactionType.values)


def _placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


@pytest.mark.parametrize("language", ["fr", "de", "lb"])
def test_every_sentence_is_translated_with_its_placeholders(language):
    english = counter_texts()
    with translation.override(language):
        translated = counter_texts()
    for group in ("errors", "fields", "activity", "texts"):
        for name, source in english[group].items():
            text = translated[group][name]
            assert text != source, (language, name)
            assert _placeholders(text) == _placeholders(source), (language, name)


def test_the_sentences_cover_the_fields_of_invalid_input():
    from loyalty.api import serializers

    inputs = [
        serializers.EnrollmentInput,
        serializers.EarnInput,
        serializers.RedeemInput,
        serializers.StampsInput,
        serializers.VoidInput,
    ]
    names = {name for serializer in inputs for name in serializer().fields}
    # staff_id: the counter never sends it; marketing_consent: a tick box cannot be invalid.
    assert names - set(FIELDS) == {"staff_id", "marketing_consent"}


def _texts_block(html: str) -> dict:
    block = re.search(
        r'<script id="counter-texts" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(block.group(1))


@pytest.mark.parametrize(
    ("path", "language", "heading"),
    [
        ("/counter/", "en", "Counter"),
        ("/fr/counter/", "fr", "Comptoir"),
        ("/de/counter/", "de", "Kasse"),
        ("/lb/counter/", "lb", "Keess"),
    ],
)
def test_the_counter_speaks_the_language_of_its_address(client, path, language, heading):
    response = client.get(path)

    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.text
    assert f"<h1>{heading}</h1>" in response.text
    texts = _texts_block(response.text)
    with translation.override(language):
        assert texts["errors"]["pin_locked"] == str(ERRORS["pin_locked"])
        assert texts["texts"]["check_digit"] == str(TEXTS["check_digit"])
    # The switcher leads to the counter in the other languages; the scripts are files.
    for other in ("en", "fr", "de", "lb"):
        assert f'href="/{other}/counter/"' in response.text
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", response.text) == []


def test_the_counter_follows_the_browsers_language_without_a_prefix(client):
    response = client.get("/counter/", HTTP_ACCEPT_LANGUAGE="de")
    assert '<html lang="de">' in response.text
    assert "Accept-Language" in response["Vary"]


def test_the_counter_pages_carry_the_content_security_policy(client):
    for path in ("/counter/", "/counter/pair/"):
        policy = client.get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "default-src 'self'" in policy


def test_the_counter_is_not_indexed(client):
    assert '<meta name="robots" content="noindex">' in client.get("/counter/").text
    assert '<meta name="robots" content="noindex">' in client.get("/counter/pair/").text
