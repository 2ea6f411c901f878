"""Personas for the terminal API: a terminal at Alice's `main` store, with a staff PIN (1234)
and a manager PIN (9876), under a programme that requires PINs."""

import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from loyalty.api.authentication import forget_cached_keys
from tests.factories import ProgramFactory, StaffPinFactory, TerminalKeyFactory

STAFF_PIN = "1234"
MANAGER_PIN = "9876"
BASE = "/api/v1/terminal"


@pytest.fixture(autouse=True)
def _fresh_caches():
    cache.clear()
    forget_cached_keys()


@pytest.fixture
def program(merchant):
    return ProgramFactory(merchant=merchant, require_staff_pin=True)


@pytest.fixture
def terminal_key(store):
    return TerminalKeyFactory(store=store)


@pytest.fixture
def staff_pin(store):
    return StaffPinFactory(store=store, staff_name="Sam", pin=STAFF_PIN)


@pytest.fixture
def manager_pin(store):
    return StaffPinFactory(store=store, staff_name="Morgan", pin=MANAGER_PIN, is_manager=True)


class Terminal:
    """An API client that speaks for one terminal key."""

    def __init__(self, key):
        self.key = key
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.secret}")

    def get(self, path, **extra):
        return self.client.get(f"{BASE}/{path}", **extra)

    def post(self, path, body=None, *, idempotency_key=None, **extra):
        if idempotency_key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = idempotency_key
        return self.client.post(
            f"{BASE}/{path}",
            json.dumps(body if body is not None else {}),
            content_type="application/json",
            **extra,
        )


@pytest.fixture
def terminal(terminal_key, staff_pin, manager_pin):
    return Terminal(terminal_key)


@pytest.fixture
def rival_terminal(rival_merchant):
    store = rival_merchant["store"]
    StaffPinFactory(store=store, staff_name="Bob", pin=STAFF_PIN)
    return Terminal(TerminalKeyFactory(store=store))
