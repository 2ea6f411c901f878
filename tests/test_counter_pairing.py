"""Pairing a counter tablet: the one-time code (service), its redemption at /counter/pair/,
and the admin page that makes it."""

import datetime
import json
import re

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loyalty.api.authentication import forget_cached_keys
from loyalty.errors import PairingCodeExpired, PairingCodeInvalid, PairingCodeUsed
from loyalty.models import PairingCode, TerminalKey
from loyalty.services import pairing
from tests.factories import StaffMembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_caches():
    cache.clear()
    forget_cached_keys()


def program_answer(key: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client.get("/api/v1/terminal/program/")


def redeem(client, code, **extra):
    return client.post(
        "/counter/pair/", json.dumps({"code": code}), content_type="application/json", **extra
    )


def test_a_code_is_8_unambiguous_characters_stored_only_as_a_digest(store):
    made, code = pairing.create_pairing_code(store=store, terminal_name="Till tablet")

    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{8}", code)
    row = PairingCode.objects.get()
    assert row == made
    assert code not in row.code_digest and len(row.code_digest) == 64
    assert row.expires_at - row.created_at == datetime.timedelta(minutes=10)
    assert (row.store, row.terminal_name, row.redeemed_at, row.terminal_key) == (
        store,
        "Till tablet",
        None,
        None,
    )
    # No key exists until a tablet redeems the code.
    assert not TerminalKey.objects.exists()


def test_codes_differ_each_time(store):
    codes = {pairing.create_pairing_code(store=store, terminal_name="t")[1] for _ in range(20)}
    assert len(codes) == 20


def test_redeeming_makes_the_stores_key_and_hands_it_over_once(store, program):
    made, code = pairing.create_pairing_code(store=store, terminal_name="Till tablet")

    # As a person types it: lower case, a dash between the groups, spaces around.
    terminal_key, key = pairing.redeem_pairing_code(code=f" {code[:4].lower()}-{code[4:]} ")

    assert (terminal_key.store, terminal_key.name, terminal_key.revoked) == (
        store,
        "Till tablet",
        False,
    )
    assert key.startswith(terminal_key.prefix + ".")
    made.refresh_from_db()
    assert made.terminal_key == terminal_key and made.redeemed_at is not None
    assert program_answer(key).status_code == 200

    with pytest.raises(PairingCodeUsed):
        pairing.redeem_pairing_code(code=code)
    assert TerminalKey.objects.count() == 1


def test_an_expired_code_is_refused(store):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _, code = pairing.create_pairing_code(store=store, terminal_name="t")
    with time_machine.travel(start + datetime.timedelta(minutes=9, seconds=59), tick=False):
        _, still_good = pairing.create_pairing_code(store=store, terminal_name="t")
    with time_machine.travel(start + datetime.timedelta(minutes=10), tick=False):
        with pytest.raises(PairingCodeExpired):
            pairing.redeem_pairing_code(code=code)
        pairing.redeem_pairing_code(code=still_good)
    assert TerminalKey.objects.count() == 1
    assert PairingCode.objects.filter(redeemed_at__isnull=True).count() == 1


@pytest.mark.parametrize("typed", ["", "ABCD-EFG", "ABCDEFGHJ", "ABCD-EFG0", "ABCDEFGI", "é" * 8])
def test_what_cannot_be_a_code_is_refused(store, typed):
    pairing.create_pairing_code(store=store, terminal_name="t")
    with pytest.raises(PairingCodeInvalid):
        pairing.redeem_pairing_code(code=typed)
    assert not TerminalKey.objects.exists()


def test_a_code_of_a_trashed_store_is_refused(store):
    _, code = pairing.create_pairing_code(store=store, terminal_name="t")
    store.deleted_at = timezone.now()
    store.save()
    with pytest.raises(PairingCodeInvalid):
        pairing.redeem_pairing_code(code=code)
    assert not TerminalKey.objects.exists()


# The endpoint the pairing page posts to.


def test_the_pairing_endpoint_answers_the_key_once(client, store, program):
    _, code = pairing.create_pairing_code(store=store, terminal_name="Till tablet")

    response = redeem(client, code)

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert set(body) == {"key", "name", "store", "store_name", "merchant"}
    assert (body["name"], body["store"], body["store_name"], body["merchant"]) == (
        "Till tablet",
        "main",
        store.name,
        "Alice's Bakery",
    )
    assert program_answer(body["key"]).status_code == 200

    again = redeem(client, code)
    assert again.status_code == 410
    assert again.json()["code"] == "pairing_code_used"
    assert "key" not in again.json()


def test_the_pairing_endpoint_refuses_expired_unknown_and_malformed_codes(client, store):
    with time_machine.travel(timezone.now() - datetime.timedelta(minutes=11), tick=False):
        _, old = pairing.create_pairing_code(store=store, terminal_name="t")

    assert (redeem(client, old).status_code, redeem(client, old).json()["code"]) == (
        410,
        "pairing_code_expired",
    )
    assert redeem(client, "ZZZZ-ZZZZ").json() == {
        "code": "pairing_code_invalid",
        "detail": "This pairing code does not exist.",
    }
    assert redeem(client, "ZZZZ-ZZZZ").status_code == 404
    for body in ("not json", "[]", '{"code": 12345678}'):
        response = client.post("/counter/pair/", body, content_type="application/json")
        assert (response.status_code, response.json()["code"]) == (404, "pairing_code_invalid")
    assert not TerminalKey.objects.exists()


def test_the_pairing_endpoint_needs_the_pages_csrf_token(store):
    _, code = pairing.create_pairing_code(store=store, terminal_name="t")
    browser = Client(enforce_csrf_checks=True)

    assert redeem(browser, code).status_code == 403
    page = browser.get("/counter/pair/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    assert redeem(browser, code, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_the_pairing_endpoint_limits_guesses_per_address(client, store, settings):
    settings.PAGE_RATE_LIMITS = {**settings.PAGE_RATE_LIMITS, "pair": "3/h"}
    _, code = pairing.create_pairing_code(store=store, terminal_name="t")
    for _ in range(3):
        assert redeem(client, "ZZZZ-ZZZZ").status_code == 404

    response = redeem(client, code)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 3600
    # The code was not spent by a refused request.
    assert PairingCode.objects.get().redeemed_at is None


def test_the_pairing_page_takes_the_code_from_its_qr_link(client):
    response = client.get("/fr/counter/pair/?code=K7MX3QPA")
    assert response.status_code == 200
    assert 'value="K7MX3QPA"' in response.text
    assert '<html lang="fr">' in response.text
    assert "Associer cette tablette" in response.text


# The admin.


@pytest.fixture
def operator(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_admin_makes_a_pairing_code_and_shows_it_with_its_qr_code(operator, store):
    changelist = operator.get(reverse("admin:loyalty_terminalkey_changelist"))
    assert reverse("admin:loyalty_terminalkey_pair") in changelist.text

    form = operator.get(reverse("admin:loyalty_terminalkey_pair"))
    assert form.status_code == 200 and 'name="store"' in form.text

    response = operator.post(
        reverse("admin:loyalty_terminalkey_pair"), {"store": store.pk, "name": "Front tablet"}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = re.search(r'id="pairing-code">([A-Z0-9]{4}-[A-Z0-9]{4})<', response.text).group(1)
    assert '<svg role="img"' in response.text
    assert f"<title>QR code of pairing code {shown}</title>" in response.text
    assert f"/counter/pair/?code={shown.replace('-', '')}" in response.text
    made = PairingCode.objects.get()
    assert (made.store, made.terminal_name, made.created_by.is_superuser) == (
        store,
        "Front tablet",
        True,
    )
    # The key is made by the tablet's redemption, never shown here.
    assert not TerminalKey.objects.exists()
    terminal_key, _ = pairing.redeem_pairing_code(code=shown)
    assert terminal_key.name == "Front tablet"


def test_the_admin_form_says_what_is_missing(operator, store):
    response = operator.post(reverse("admin:loyalty_terminalkey_pair"), {"name": ""})
    assert response.status_code == 200
    assert response.text.count("This field is required.") == 2
    assert not PairingCode.objects.exists()


def test_only_staff_who_may_add_keys_make_pairing_codes(client, store):
    client.force_login(UserFactory(is_staff=True))
    response = client.post(
        reverse("admin:loyalty_terminalkey_pair"), {"store": store.pk, "name": "t"}
    )
    assert response.status_code == 403
    client.logout()
    response = client.get(reverse("admin:loyalty_terminalkey_pair"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not PairingCode.objects.exists()


@pytest.mark.parametrize("role", ["owner", "manager", "staff"])
def test_a_merchants_staff_pair_tablets_for_their_own_stores_only(
    client, merchant, store, rival_merchant, role
):
    user = UserFactory(is_staff=True)
    StaffMembershipFactory(user=user, merchant=merchant, role=role)
    client.force_login(user)
    pair = reverse("admin:loyalty_terminalkey_pair")

    if role == "staff":
        assert client.get(pair).status_code == 403
        assert client.post(pair, {"store": store.pk, "name": "t"}).status_code == 403
        assert not PairingCode.objects.exists()
        return
    form = client.get(pair)
    assert f'value="{store.pk}"' in form.text
    assert f'value="{rival_merchant["store"].pk}"' not in form.text

    refused = client.post(pair, {"store": rival_merchant["store"].pk, "name": "t"})
    assert "Select a valid choice" in refused.text
    assert not PairingCode.objects.exists()

    client.post(pair, {"store": store.pk, "name": "Front tablet"})
    assert PairingCode.objects.get().store == store


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("abcd efgh", "ABCDEFGH"),
        (" AB CD-EF GH\t", "ABCDEFGH"),
        ("2345-6789", "23456789"),
        ("ABCDEFG", None),  # too short, every character valid
        ("ABCDEFGHJ", None),  # too long
        ("ABCDEFG1", None),  # the right length, a look-alike
        ("", None),
        (None, None),
    ],
)
def test_what_a_person_types_is_read_as_the_code_or_nothing(typed, code):
    assert pairing.normalize(typed) == code


def test_the_stored_digest_is_the_codes_hmac_under_the_secret_key(store, settings):
    from django.utils.crypto import salted_hmac

    _, code = pairing.create_pairing_code(store=store, terminal_name="t")
    # Stable across releases (a code issued before a deploy still pairs after it), and
    # tied to the secret key: a copy of the table without it opens nothing.
    expected = salted_hmac("loyalty.pairing-code", code, algorithm="sha256").hexdigest()
    assert PairingCode.objects.get().code_digest == expected
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(PairingCodeInvalid):
        pairing.redeem_pairing_code(code=code)


def test_a_new_code_is_never_one_issued_before(store, monkeypatch):
    # The random draws give the first code again, then another.
    draws = iter("ABCDEFGHABCDEFGH23456789")
    monkeypatch.setattr(pairing.secrets, "choice", lambda alphabet: next(draws))

    first = pairing.create_pairing_code(store=store, terminal_name="t")[1]
    second = pairing.create_pairing_code(store=store, terminal_name="t")[1]

    assert (first, second) == ("ABCDEFGH", "23456789")
    assert PairingCode.objects.count() == 2
