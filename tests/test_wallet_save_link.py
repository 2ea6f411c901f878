"""The "Add to Google Wallet" link: its JWT checked with the test service account's public
key, the card's wallet address that makes the pass and redirects to Google, and the button
that the customer pages include."""

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from django.template.loader import render_to_string
from google.auth import crypt

from loyalty import card_links
from loyalty.models import Card, WalletPass
from loyalty.services import ledger
from loyalty.wallet import save_links
from tests.conftest import WALLET_ISSUER_ID

pytestmark = pytest.mark.django_db

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"


def public_key(google_wallet) -> bytes:
    private = serialization.load_pem_private_key(
        google_wallet.key_info["private_key"].encode(), password=None
    )
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def verified(token: str, public_pem: bytes) -> tuple[dict, dict]:
    """The token's header and claims, once its RS256 signature checks out with the key.
    (google.auth.jwt.decode would also demand an `exp`, which save links do not carry.)"""
    signed, _, signature = token.rpartition(".")
    verifier = crypt.RSAVerifier.from_string(public_pem)
    if not verifier.verify(signed.encode(), b64decode(signature)):
        raise ValueError("Could not verify token signature.")
    header, claims = (json.loads(b64decode(part)) for part in signed.split("."))
    return header, claims


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def wallet_path(card: Card) -> str:
    return f"/card/{card_links.card_token(card.link_key)}/wallet/"


def test_the_save_link_is_a_jwt_signed_by_the_service_account(google_wallet, card):
    ledger.earn_points(card=card, store=None, points=35)
    card = Card.objects.select_related("program__merchant", "customer").get(pk=card.pk)

    url = save_links.save_url(card)

    assert url.startswith(SAVE_PREFIX)
    token = url.removeprefix(SAVE_PREFIX)
    header, claims = verified(token, public_key(google_wallet))
    assert header == {
        "typ": "JWT",
        "alg": "RS256",
        "kid": google_wallet.key_info["private_key_id"],
    }
    assert claims["iss"] == google_wallet.key_info["client_email"]
    assert (claims["aud"], claims["typ"]) == ("google", "savetowallet")
    assert claims["origins"] == ["127.0.0.1:8000"]
    assert abs(claims["iat"] - time.time()) < 60
    (loyalty_object,) = claims["payload"]["loyaltyObjects"]
    (loyalty_class,) = claims["payload"]["loyaltyClasses"]
    assert loyalty_object["id"] == f"{WALLET_ISSUER_ID}.card-{card.number}"
    assert loyalty_object["classId"] == loyalty_class["id"]
    assert loyalty_object["loyaltyPoints"]["balance"] == {"int": 35}
    assert loyalty_object["barcode"]["value"] == card.number
    assert loyalty_class["programName"] == card.program.name


def test_a_link_signed_with_another_key_does_not_verify(google_wallet, card):
    card = Card.objects.select_related("program__merchant", "customer").get(pk=card.pk)
    token = save_links.save_url(card).removeprefix(SAVE_PREFIX)
    other = google_wallet.service_account_info()
    other_public = (
        serialization.load_pem_private_key(other["private_key"].encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )

    with pytest.raises(ValueError, match="Could not verify token signature"):
        verified(token, other_public)


def test_the_wallet_address_makes_the_pass_and_redirects_to_google(
    client, google_wallet, card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(wallet_path(card))

    assert response.status_code == 302
    assert response["Location"].startswith(SAVE_PREFIX)
    assert "no-cache" in response["Cache-Control"]
    _, claims = verified(response["Location"].removeprefix(SAVE_PREFIX), public_key(google_wallet))
    assert claims["payload"]["loyaltyObjects"][0]["accountName"] == card.customer.first_name
    assert WalletPass.objects.filter(pk=card.pk).exists()
    # Pushed after the commit: the object exists at Google before the customer saves it.
    assert f"{WALLET_ISSUER_ID}.card-{card.number}" in google_wallet.resources["loyaltyObject"]
    assert Card.objects.get(pk=card.pk).wallet_pass_state == "synced"


def test_the_wallet_address_is_not_found_when_off_tampered_or_for_an_inactive_card(
    client, google_wallet, card, settings
):
    tampered = client.get(wallet_path(card).replace(":", ":x"))
    Card.objects.filter(pk=card.pk).update(is_active=False)
    inactive = client.get(wallet_path(card))
    Card.objects.filter(pk=card.pk).update(is_active=True)
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    off = client.get(wallet_path(card))

    assert (tampered.status_code, inactive.status_code, off.status_code) == (404, 404, 404)
    assert not WalletPass.objects.exists()


def test_the_wallet_address_answers_get_only(client, google_wallet, card):
    assert client.post(wallet_path(card)).status_code == 405


def test_the_button_links_to_the_cards_wallet_address(google_wallet, card):
    html = render_to_string("loyalty/wallet_button.html", {"card": card})

    assert f'<a class="wallet-button" href="{wallet_path(card)}" rel="nofollow">' in html
    assert "Add to Google Wallet</a>" in html


def test_the_button_renders_nothing_when_the_wallet_is_off_or_the_card_is_not_live(
    google_wallet, card, settings
):
    card.is_active = False
    inactive = render_to_string("loyalty/wallet_button.html", {"card": card})
    card.is_active = True
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    off = render_to_string("loyalty/wallet_button.html", {"card": card})

    assert (inactive.strip(), off.strip()) == ("", "")


def test_the_key_is_loaded_once_per_process(google_wallet, card, settings):
    """A rotated key file takes effect on restart (README, "Rotate the key"): until then the
    process keeps signing with the key it loaded."""
    card = Card.objects.select_related("program__merchant", "customer").get(pk=card.pk)
    first_key = public_key(google_wallet)
    save_links.save_url(card)
    rotated = google_wallet.service_account_info()
    with open(settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE, "w") as key_file:
        json.dump(rotated, key_file)

    header, _ = verified(save_links.save_url(card).removeprefix(SAVE_PREFIX), first_key)

    assert header["kid"] == google_wallet.key_info["private_key_id"] != rotated["private_key_id"]
