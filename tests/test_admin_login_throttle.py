"""Admin login throttling (django-axes), counted per username and client address."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone
from django_ratelimit.core import get_usage

from config.client_ip import client_ip
from tests.factories import UserFactory

LOGIN_URL = "/admin/login/"
PASSWORD = "right-horse-battery"


@pytest.fixture
def operator(db):
    return UserFactory(username="ops", password=PASSWORD, is_staff=True, is_superuser=True)


@pytest.fixture
def other_operator(db):
    return UserFactory(username="ops2", password=PASSWORD, is_staff=True, is_superuser=True)


def log_in(client, username, password, **headers):
    return client.post(
        LOGIN_URL, {"username": username, "password": password, "next": "/admin/"}, **headers
    )


def fail_logins(client, username, times=5, **headers):
    return [log_in(client, username, f"wrong-{i}", **headers).status_code for i in range(times)]


def assert_logged_in(client, response):
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert "_auth_user_id" in client.session
    client.logout()


def assert_locked_out(client, response):
    assert response.status_code == 429
    assert "admin/locked_out.html" in [t.name for t in response.templates]
    content = response.content.decode()
    assert "<h1>Login locked</h1>" in content
    assert 'name="password"' not in content
    assert "Wait 15 minutes" in content
    assert "manage.py axes_reset" in content
    assert "_auth_user_id" not in client.session


def test_five_wrong_passwords_lock_out_even_the_right_one(client, operator):
    assert fail_logins(client, "ops", times=4) == [200, 200, 200, 200]
    # The fifth failure reaches the limit and is answered with the lockout page.
    assert_locked_out(client, log_in(client, "ops", "wrong-5"))

    assert_locked_out(client, log_in(client, "ops", PASSWORD))


def test_a_right_password_before_the_limit_clears_the_count(client, operator):
    fail_logins(client, "ops", times=4)
    assert_logged_in(client, log_in(client, "ops", PASSWORD))

    fail_logins(client, "ops", times=4)
    assert_logged_in(client, log_in(client, "ops", PASSWORD))


def test_another_username_from_the_same_address_is_not_locked(client, operator, other_operator):
    fail_logins(client, "ops")

    assert_logged_in(client, log_in(client, "ops2", PASSWORD))
    assert_locked_out(client, log_in(client, "ops", PASSWORD))


def test_the_same_username_from_another_address_is_not_locked(client, operator):
    fail_logins(client, "ops", REMOTE_ADDR="203.0.113.7")

    assert_logged_in(client, log_in(client, "ops", PASSWORD, REMOTE_ADDR="203.0.113.8"))
    assert_locked_out(client, log_in(client, "ops", PASSWORD, REMOTE_ADDR="203.0.113.7"))


def test_the_lockout_ends_after_fifteen_minutes(client, operator):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail_logins(client, "ops")

        clock.shift(timedelta(minutes=14, seconds=59))
        assert_locked_out(client, log_in(client, "ops", PASSWORD))

        # A locked-out attempt started the cool-off again (axes' default): 15 minutes from it.
        clock.shift(timedelta(minutes=15, seconds=1))
        assert_logged_in(client, log_in(client, "ops", PASSWORD))


def test_axes_reset_lifts_the_lockout(client, operator):
    fail_logins(client, "ops")
    assert_locked_out(client, log_in(client, "ops", PASSWORD))

    call_command("axes_reset", verbosity=0)

    assert_logged_in(client, log_in(client, "ops", PASSWORD))


def test_behind_a_proxy_the_forwarded_address_is_the_one_locked(client, operator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    fail_logins(client, "ops", HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy)

    # Another client behind the same proxy still logs in...
    assert_logged_in(
        client, log_in(client, "ops", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy)
    )
    # ...while the locked one stays locked, even when it adds an address of its own choosing
    # on the left of the header.
    assert_locked_out(
        client,
        log_in(
            client,
            "ops",
            PASSWORD,
            HTTP_X_FORWARDED_FOR="198.51.100.2, 198.51.100.1",
            **proxy,
        ),
    )


def test_without_a_proxy_setting_the_forwarded_header_is_ignored(client, operator):
    # A client that rotates X-Forwarded-For is still one address.
    for i in range(5):
        log_in(client, "ops", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")

    assert_locked_out(client, log_in(client, "ops", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1"))


@pytest.mark.parametrize(
    ("proxy_count", "forwarded_for", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "192.0.2.9, 198.51.100.1", "198.51.100.1"),
        (2, "192.0.2.9, 198.51.100.1, 10.0.0.1", "198.51.100.1"),
        (2, "198.51.100.1", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(
    settings, proxy_count, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxy_count
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)

    assert client_ip(request) == expected


def test_per_address_rate_limits_count_by_the_same_client_ip(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    factory = RequestFactory()

    def usage(forwarded_for):
        request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded_for)
        return get_usage(request, group="client-ip-test", key="ip", rate="2/m", increment=True)

    assert usage("198.51.100.1")["count"] == 1
    assert usage("198.51.100.1")["count"] == 2
    assert usage("198.51.100.2")["count"] == 1
