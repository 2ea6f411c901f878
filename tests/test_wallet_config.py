"""Google Wallet's configuration: the system check (one message per misconfiguration), the
operators' status API and the admin's wallet line, failing passes and push action."""

import json
from pathlib import Path

import pytest
from django.core import checks
from django.urls import reverse
from rest_framework.test import APIClient

from loyalty.checks import check_google_wallet
from loyalty.models import Card, TaskRun, WalletPass
from loyalty.tasks import sync_wallet_passes
from loyalty.wallet import services
from tests.conftest import WALLET_ISSUER_ID
from tests.factories import CardFactory, UserFactory

STATUS_URL = "/api/v1/admin/wallet-status/"


@pytest.fixture
def key_file(google_wallet, settings):
    return Path(settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE)


def problems():
    return [(error.id, error.msg) for error in check_google_wallet(None)]


def test_without_an_issuer_the_wallet_is_off_and_nothing_is_checked(settings):
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = "/nowhere.json"

    assert problems() == []


def test_a_valid_configuration_passes_the_check(key_file):
    assert problems() == []
    assert [e for e in checks.run_checks() if e.id.startswith("loyalty.")] == []


def test_an_issuer_without_a_key_file_setting(google_wallet, settings):
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = ""

    assert problems() == [
        (
            "loyalty.E002",
            "GOOGLE_WALLET_ISSUER_ID is set but GOOGLE_WALLET_SERVICE_ACCOUNT_FILE is not.",
        )
    ]


def test_a_missing_key_file(google_wallet, settings, tmp_path):
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(tmp_path / "absent.json")

    assert problems() == [
        (
            "loyalty.E002",
            f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {tmp_path}/absent.json does not exist.",
        )
    ]


def test_an_unreadable_key_file(google_wallet, settings, tmp_path):
    # A directory: unreadable as a file whoever runs the test (root reads any mode).
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(tmp_path)

    assert problems() == [
        (
            "loyalty.E003",
            f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {tmp_path} cannot be read: Is a directory.",
        )
    ]


@pytest.mark.parametrize(
    "content, why",
    [
        ("not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        ('{"type": "authorized_user"}', '"type" is \'authorized_user\', not "service_account"'),
        ('{"type": "service_account", "client_email": "a@b"}', "missing private_key, token_uri"),
    ],
)
def test_a_file_that_is_not_a_service_account_key(key_file, content, why):
    key_file.write_text(content)

    assert problems() == [
        (
            "loyalty.E004",
            f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {key_file} is not a service-account JSON key "
            f"({why}).",
        )
    ]


def test_a_key_file_whose_private_key_is_not_a_key(key_file, google_wallet):
    key_file.write_text(json.dumps({**google_wallet.key_info, "private_key": "garbage"}))

    assert [id for id, _ in problems()] == ["loyalty.E004"]
    assert "its private_key is not a PEM RSA key" in problems()[0][1]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_key_file_readable_by_group_or_others_with_debug_off(key_file, settings, mode):
    settings.DEBUG = False
    key_file.chmod(mode)

    assert problems() == [
        (
            "loyalty.E005",
            f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {key_file} is readable by group or others "
            f"(mode -{'rw-' if mode & 0o200 else 'r--'}"
            f"{'r--' if mode & 0o040 else '---'}{'r--' if mode & 0o004 else '---'}); "
            "it holds a private key.",
        )
    ]


def test_a_key_file_readable_by_others_is_allowed_in_debug(key_file, settings):
    settings.DEBUG = True
    key_file.chmod(0o644)

    assert problems() == []


def test_an_issuer_id_that_is_not_a_number(google_wallet, settings):
    settings.GOOGLE_WALLET_ISSUER_ID = "my-issuer"

    assert problems() == [
        (
            "loyalty.E006",
            "GOOGLE_WALLET_ISSUER_ID must be the issuer's number, not 'my-issuer'.",
        )
    ]


def test_the_check_fails_start_up(google_wallet, settings):
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = ""

    errors = checks.run_checks()

    assert [e.id for e in errors if e.id.startswith("loyalty.")] == ["loyalty.E002"]
    assert all(e.is_serious() for e in errors if e.id == "loyalty.E002")


@pytest.fixture
def staff_api(db):
    client = APIClient()
    client.force_login(UserFactory(is_staff=True))
    return client


def test_the_status_api_is_for_staff_only(db):
    client = APIClient()
    anonymous = client.get(STATUS_URL)
    client.force_login(UserFactory(is_staff=False))
    customer_side = client.get(STATUS_URL)

    assert (anonymous.status_code, anonymous.json()["code"]) == (403, "not_authenticated")
    assert (customer_side.status_code, customer_side.json()["code"]) == (
        403,
        "permission_denied",
    )


def test_the_status_api_says_why_the_wallet_is_off(staff_api, settings):
    settings.GOOGLE_WALLET_ISSUER_ID = ""

    body = staff_api.get(STATUS_URL).json()

    assert body == {
        "enabled": False,
        "configured": False,
        "reason": "GOOGLE_WALLET_ISSUER_ID is not set: Google Wallet is off.",
        "problems": [],
        "issuer_id": "",
        "service_account_email": "",
        "key_id": "",
        "key_file_modified_at": None,
        "key_age_days": None,
        "passes": 0,
        "stale_passes": 0,
        "failing_passes": 0,
        "last_sync": None,
    }


def test_the_status_api_names_each_problem(staff_api, key_file):
    key_file.write_text("{}")

    body = staff_api.get(STATUS_URL).json()

    assert (body["enabled"], body["configured"]) == (True, False)
    assert [p["id"] for p in body["problems"]] == ["loyalty.E004"]
    assert body["reason"] == body["problems"][0]["message"]
    assert body["problems"][0]["hint"].startswith("Download a JSON key")


def test_the_status_api_reports_the_key_the_passes_and_the_last_sync(
    staff_api, google_wallet, card, program, store, django_capture_on_commit_callbacks
):
    broken = CardFactory(program=program, enrolled_store=store)
    google_wallet.fail(400, match=broken.number, times=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_pass(card=card)
        services.request_pass(card=broken)
    for _ in range(3):
        sync_wallet_passes.delay()

    body = staff_api.get(STATUS_URL).json()

    assert (body["enabled"], body["configured"], body["reason"]) == (True, True, "")
    assert body["issuer_id"] == WALLET_ISSUER_ID
    assert body["service_account_email"] == google_wallet.key_info["client_email"]
    assert body["key_id"] == google_wallet.key_info["private_key_id"]
    assert body["key_age_days"] == 0
    assert (body["passes"], body["stale_passes"], body["failing_passes"]) == (2, 1, 1)
    last = body["last_sync"]
    assert (last["status"], last["pushed"], last["failed"], last["failure_rate"]) == (
        "succeeded",
        0,
        1,
        1.0,
    )
    assert last["failed_card_ids"] == [broken.pk]


@pytest.fixture
def operator_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


WALLET_PASSES = reverse("admin:loyalty_walletpass_changelist")


def test_the_admin_says_whether_the_wallet_is_configured_and_why_not(
    operator_client, settings, key_file
):
    configured = operator_client.get(WALLET_PASSES).content.decode()
    key_file.write_text("[]")
    broken = operator_client.get(WALLET_PASSES).content.decode()
    settings.GOOGLE_WALLET_ISSUER_ID = ""
    off = operator_client.get(WALLET_PASSES).content.decode()

    assert f"Configured: issuer {WALLET_ISSUER_ID}" in configured
    assert "Not configured: GOOGLE_WALLET_SERVICE_ACCOUNT_FILE" in broken
    assert "is not a service-account JSON key (not a JSON object)" in broken
    assert "Off: GOOGLE_WALLET_ISSUER_ID is not set: Google Wallet is off." in off


def test_the_admin_lists_failing_passes_and_pushes_them_again(
    operator_client, google_wallet, card, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_pass(card=card)
    Card.all_objects.filter(pk=card.pk).update(wallet_pass_state="stale")
    WalletPass.objects.filter(pk=card.pk).update(failed_runs=3, last_error="answered 400: Bad")

    failing = operator_client.get(WALLET_PASSES, {"failing": "failing"}).content.decode()
    response = operator_client.post(
        WALLET_PASSES, {"action": "push_again", "_selected_action": [card.pk]}, follow=True
    )

    assert card.number in failing and "answered 400: Bad" in failing
    assert "Pushed 1 pass(es)." in response.content.decode()
    assert WalletPass.objects.get(pk=card.pk).failed_runs == 0
    assert Card.all_objects.get(pk=card.pk).wallet_pass_state == "synced"
    run = TaskRun.objects.get()
    assert (run.task, run.scope, run.status) == (
        "loyalty.sync_wallet_passes",
        f"admin, cards {card.pk}",
        TaskRun.Status.SUCCEEDED,
    )
    assert run.counts == {"pushed": 1, "failed": 0, "failed_card_ids": []}


def test_the_admin_says_so_when_a_push_finds_the_wallet_broken(
    operator_client, google_wallet, card, key_file, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_pass(card=card)
    key_file.write_text("[]")

    response = operator_client.post(
        WALLET_PASSES, {"action": "push_again", "_selected_action": [card.pk]}, follow=True
    )

    assert "Google Wallet is not configured: GOOGLE_WALLET_SERVICE_ACCOUNT_FILE" in (
        response.content.decode()
    )
    assert TaskRun.objects.get().status == TaskRun.Status.FAILED


def test_the_status_api_is_in_the_schema_under_the_admin_tag(client, db):
    schema = client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/admin/wallet-status/"]["get"]

    assert operation["tags"] == ["Loyalty - Admin"]
    assert operation["responses"].keys() == {"200", "403"}
    assert operation["security"] == [{"cookieAuth": []}]
