import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from config.env import env, env_bool, env_int
from loyalty.models import AnalyticsSnapshot, Card, Program, StaffPin, TerminalKey, Transaction
from loyalty.services import pairing
from merchants.models import Merchant, Store


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("Off", False), ("1", True)])
def test_booleans_parse_strictly(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_a_boolean_that_is_neither_true_nor_false_is_an_error(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("SOME_FLAG", False)


def test_an_integer_that_is_not_one_is_an_error(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12a")
    with pytest.raises(ImproperlyConfigured):
        env_int("SOME_NUMBER", 1)


def test_a_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("SOME_SECRET_FILE", str(secret))
    assert env("SOME_SECRET") == "s3cret"


PRODUCTION_LIKE = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
    "PIN_SECRET": "production-like-pin-secret-0123456789abcdef",
    "DJANGO_ALLOWED_HOSTS": "loyalty.example.com",
}


def manage_py(*args, **variables):
    """manage.py in a fresh process, with the outside settings variables replaced."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "PIN_SECRET"))
    }
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "manage.py", *args], env=environment, capture_output=True, text=True
    )


def test_check_deploy_reports_nothing_with_production_like_variables():
    result = manage_py("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_LIKE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "PIN_SECRET"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_with_debug_off_a_missing_or_empty_secret_stops_the_start(name, value):
    variables = {**PRODUCTION_LIKE, "DJANGO_DEBUG": "false"}
    del variables[name]
    if value is not None:
        variables[name] = value
    result = manage_py("check", **variables)
    assert result.returncode != 0
    assert f"{name} must be set, and not empty, when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "PIN_SECRET"])
def test_an_empty_secret_file_counts_as_missing(name, tmp_path):
    empty = tmp_path / "secret"
    empty.write_text("\n")
    variables = {**PRODUCTION_LIKE, "DJANGO_DEBUG": "false", f"{name}_FILE": str(empty)}
    del variables[name]
    result = manage_py("check", **variables)
    assert result.returncode != 0
    assert f"{name} must be set, and not empty, when DJANGO_DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    "variables",
    [{"PIN_SECRET": "too-short"}, {"PIN_SECRET_FALLBACKS": "long-enough-" * 4 + ",short"}],
)
def test_a_pin_secret_shorter_than_32_characters_is_refused_with_debug_off(variables):
    result = manage_py("check", **{**PRODUCTION_LIKE, **variables})
    assert result.returncode != 0
    assert "loyalty.E001" in result.stderr
    # In debug (a local run) the development secrets are fine.
    assert (
        manage_py("check", **{**PRODUCTION_LIKE, **variables, "DJANGO_DEBUG": "true"}).returncode
        == 0
    )


def test_env_example_assigns_no_empty_secret():
    lines = (Path(__file__).parents[1] / ".env.example").read_text().splitlines()
    assigned = dict(line.split("=", 1) for line in lines if "=" in line and line[0] != "#")
    documented = {line.lstrip("# ").split("=", 1)[0] for line in lines if "=" in line}
    assert {"DJANGO_SECRET_KEY", "PIN_SECRET", "PIN_SECRET_FALLBACKS"} <= documented
    secrets = [name for name in assigned if name.endswith(("SECRET", "SECRET_KEY", "TOKEN"))]
    assert [name for name in secrets if not assigned[name].strip()] == []


@pytest.mark.django_db
def test_load_demo_refuses_to_run_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
        call_command("load_demo")
    assert not User.objects.exists()


def test_django_log_messages_print_once_in_debug():
    # Django adds a console handler of its own in debug, besides the root logger's.
    environment = {key: value for key, value in os.environ.items() if key != "LOG_LEVEL"}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", DJANGO_DEBUG="true")
    script = (
        "import logging, django; django.setup(); "
        "logging.getLogger('django.utils.autoreload').info('watching for changes')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("watching for changes") == 1


@pytest.mark.django_db
def test_load_demo_is_idempotent_and_shows_two_tenants(capsys, settings):
    settings.DEBUG = True
    call_command("load_demo")
    first = capsys.readouterr().out
    counts = (Card.objects.count(), Transaction.objects.count(), StaffPin.objects.count())
    call_command("load_demo")
    assert (Card.objects.count(), Transaction.objects.count(), StaffPin.objects.count()) == counts

    assert set(Merchant.objects.values_list("slug", flat=True)) == {"demo-bakery", "demo-books"}
    for slug in ("demo-bakery", "demo-books"):
        assert set(Store.objects.filter(merchant__slug=slug).values_list("code", flat=True)) == {
            "main",
            "north",
        }
    bakery = Program.objects.get(merchant__slug="demo-bakery")
    books = Program.objects.get(merchant__slug="demo-books")
    assert (bakery.kind, bakery.allow_cross_location_redemption) == ("hybrid", True)
    assert (books.kind, books.allow_cross_location_redemption) == ("points", False)
    assert books.points_expiration_days
    assert Transaction.objects.filter(card__program=books).exists()
    # The analytics pages show the demo's figures at once.
    assert set(AnalyticsSnapshot.objects.values_list("merchant__slug", flat=True)) == {
        "demo-bakery",
        "demo-books",
    }
    # One usable key per demo merchant: the previous run's keys are revoked.
    assert TerminalKey.objects.filter(revoked=False).count() == 2
    assert "password 'admin'" in first
    # Branded customer pages, and their addresses printed by `dev.py run`.
    assert dict(Merchant.objects.values_list("slug", "brand_color")) == {
        "demo-bakery": "#9a3412",
        "demo-books": "#0f766e",
    }
    assert "http://127.0.0.1:8000/enroll/demo-bakery/" in first
    assert "http://127.0.0.1:8000/enroll/demo-books/" in first
    # The counter tablet's pairing code, redeemable as printed.
    code = re.search(r"counter/pair/ with the code (\S+)", first).group(1)
    terminal_key, _ = pairing.redeem_pairing_code(code=code)
    assert (terminal_key.store.merchant.slug, terminal_key.store.code) == ("demo-bakery", "main")
    for card in Card.objects.all():
        assert card.points_balance == sum(card.transactions.values_list("points_delta", flat=True))
