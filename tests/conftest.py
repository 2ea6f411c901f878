import fcntl
import importlib
import itertools
import json
import os
import tempfile
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, connections

from config.env import env_bool
from tests.browser_support import ARTIFACTS, CHROMIUM, Visit
from tests.factories import CardFactory, MerchantFactory, ProgramFactory, StoreFactory

ON_POSTGRES = connection.vendor == "postgresql"


def pytest_collection_modifyitems(config, items):
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (row locks, SKIP LOCKED, concurrency): set DATABASE_URL"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _flush_may_truncate_the_ledger():
    """Transactional tests end by emptying every table with TRUNCATE, which the ledger's
    trigger refuses on PostgreSQL; the test database's owner lifts that trigger for the
    flush statement alone (in its own transaction)."""
    if not ON_POSTGRES:
        yield
        return
    operations = type(connection.ops)
    sql_flush = operations.sql_flush

    def sql_flush_with_ledger(self, style, tables, **kwargs):
        statements = sql_flush(self, style, tables, **kwargs)
        if statements and "loyalty_transaction" in tables:
            toggle = "ALTER TABLE loyalty_transaction {} TRIGGER loyalty_ledger_refuse_truncate;"
            statements = [toggle.format("DISABLE"), *statements, toggle.format("ENABLE")]
        return statements

    operations.sql_flush = sql_flush_with_ledger
    yield
    operations.sql_flush = sql_flush


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """With TEST_DATABASE_SLOTS set (`dev.py mutate`), test sessions run side by side in
    processes forked by mutmut, each on PostgreSQL test database `test_<name>_<slot>`, the
    first slot no running session holds. Sessions keep their database for the next one
    (`--reuse-db`): migrating a new one per session would cost more than its tests."""
    database = settings.DATABASES["default"]
    if not os.environ.get("TEST_DATABASE_SLOTS") or "postgresql" not in database["ENGINE"]:
        yield
        return
    name = database["NAME"]
    for slot in itertools.count():
        test_name = f"test_{name}_{slot}"
        # An advisory lock on a file held until the session ends; the kernel drops it when
        # a killed process dies, so a slot is never lost.
        holder = open(Path(tempfile.gettempdir()) / f"{test_name}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder.close()
            continue
        break
    database.setdefault("TEST", {})["NAME"] = test_name
    yield
    # With --reuse-db, pytest-django skips Django's teardown, which closes the connection and
    # restores the name: the next session, or a process forked later, needs both.
    connections.close_all()
    database["NAME"] = name
    holder.close()


@pytest.fixture
def merchant(db):
    """A merchant with two stores, `main` and `north`, and a hybrid programme."""
    return MerchantFactory(slug="alice-bakery", name="Alice's Bakery")


@pytest.fixture
def store(merchant):
    return StoreFactory(merchant=merchant, code="main")


@pytest.fixture
def other_store(merchant):
    return StoreFactory(merchant=merchant, code="north")


@pytest.fixture
def program(merchant):
    return ProgramFactory(merchant=merchant)


@pytest.fixture
def card(program, store):
    return CardFactory(program=program, enrolled_store=store)


@pytest.fixture
def rival_merchant(db):
    """A second merchant, to prove that nothing crosses tenants."""
    merchant = MerchantFactory(slug="bob-books", name="Bob's Books")
    store = StoreFactory(merchant=merchant, code="main")
    program = ProgramFactory(merchant=merchant)
    card = CardFactory(program=program, enrolled_store=store)
    return {"merchant": merchant, "store": store, "program": program, "card": card}


@pytest.fixture
def schedules():
    """The beat schedule rows, made by the data migrations' own code: a transactional test
    empties every table when it ends, migration data included."""
    importlib.import_module("loyalty.migrations.0004_default_schedules").create_schedules(
        apps, None
    )
    importlib.import_module(
        "loyalty.migrations.0013_purge_idempotency_records_schedule"
    ).create_schedules(apps, None)
    importlib.import_module("loyalty.migrations.0016_email_schedules").update_schedules(apps, None)
    importlib.import_module("loyalty.migrations.0018_wallet_sync_schedule").switch_on(apps, None)


@pytest.fixture
def email_templates(db):
    """The 36 default email templates, made by their data migrations (see `schedules`)."""
    importlib.import_module("loyalty.migrations.0015_default_email_templates").seed_templates(
        apps, None
    )
    importlib.import_module("loyalty.migrations.0018_card_link_email_templates").seed_templates(
        apps, None
    )


@pytest.fixture
def test_database_url():
    """The test database's URL, for processes a test starts (they connect on their own)."""
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    return (
        f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}"
    )


@pytest.fixture(scope="session")
def axe_summaries():
    """Every page's axe-core summary (violations by impact, rules passed), written to
    tests/artifacts/axe-summary.json when the session ends."""
    summaries = {}
    yield summaries
    if summaries:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / "axe-summary.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**known, **summaries}, indent=2, sort_keys=True) + "\n")


# The browser tests' Debian chromium, driven by Playwright (tests/browser_support.py).


@pytest.fixture
def browser(live_server):
    if not CHROMIUM.exists():
        if env_bool("CI", False):
            pytest.fail(f"CI must run the browser tests, and {CHROMIUM} is missing")
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def visit(browser, live_server):
    context = browser.new_context()
    yield Visit(context.new_page(), live_server.url)
    context.close()


WALLET_ISSUER_ID = "3388000000012345678"


@pytest.fixture
def google_wallet(settings, tmp_path):
    """Google Wallet on, against a fake Google (token endpoint and Wallet API) over HTTP on
    127.0.0.1, with a service-account key file made for the test (mode 600)."""
    from tests.fake_google_wallet import FakeGoogleWallet

    google = FakeGoogleWallet().start()
    google.key_info = google.service_account_info()
    key_file = tmp_path / "wallet-service-account.json"
    key_file.write_text(json.dumps(google.key_info))
    key_file.chmod(0o600)
    settings.GOOGLE_WALLET_ISSUER_ID = WALLET_ISSUER_ID
    settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = str(key_file)
    settings.GOOGLE_WALLET_API_URL = google.api_url
    yield google
    google.stop()
