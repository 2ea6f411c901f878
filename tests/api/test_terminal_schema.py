"""The OpenAPI schema: valid, committed as docs/openapi.yaml, and honoured by every response
to whatever schemathesis generates from it."""

from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from loyalty.services import ledger
from tests.api.conftest import STAFF_PIN

COMMITTED_SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_schema_is_valid_and_matches_the_committed_copy(tmp_path, db):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(generated))
    assert generated.read_text() == COMMITTED_SCHEMA.read_text(), (
        "docs/openapi.yaml is out of date: run "
        "`.venv/bin/python manage.py spectacular --file docs/openapi.yaml`"
    )


def test_every_terminal_operation_is_tagged_and_summarised(client, db):
    schema = client.get("/api/schema/?format=json").json()
    operations = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/terminal/")
        for operation in item.values()
    ]
    assert len(operations) == 12
    for operation in operations:
        assert operation["tags"] == ["Loyalty - Store"]
        assert operation["summary"]
        assert {"200", "201"} & operation["responses"].keys()
        assert {"401", "404"} <= operation["responses"].keys()


@pytest.fixture
def fuzzed_world(terminal, card, program, settings):
    """Identifiers that exist, so that generated requests reach the services, and no rate
    limits, so that they keep reaching them."""
    settings.RATELIMIT_ENABLE = False
    program.require_staff_pin = False
    program.save()
    entry = ledger.earn_points(card=card, store=card.enrolled_store, points=500)
    ledger.add_stamps(card=card, store=card.enrolled_store, count=20)
    return {
        "terminal": terminal,
        "path": {"number": card.number, "id": entry.pk, "pk": entry.pk},
    }


@pytest.fixture
def wsgi_inside_the_test_transaction():
    """Like Django's test client: requests must not close the test's database connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def test_no_generated_request_breaks_the_schema_or_the_server(
    fuzzed_world, staff_pin, wsgi_inside_the_test_transaction
):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(
        path_regex="^/api/v1/terminal/"
    )
    headers = {"Authorization": f"Api-Key {fuzzed_world['terminal'].key.secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12

    for operation in operations:

        @hypothesis_settings(
            max_examples=40,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            for name in list(case.path_parameters or {}):
                # Half the time an identifier that exists, to get past the 404.
                if hash(repr(case.body)) % 2:
                    case.path_parameters[name] = fuzzed_world["path"][name]
            if isinstance(case.body, dict) and hash(repr(case.body)) % 3 == 0:
                case.body["staff_pin"] = STAFF_PIN
                case.body.pop("staff_id", None)
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
