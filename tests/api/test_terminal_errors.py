"""Every error has the same JSON shape, and no input gives a 500."""

import pytest
from rest_framework.test import APIClient

from loyalty.services import ledger
from tests.api.conftest import BASE, STAFF_PIN


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.parametrize(
    "raw", [b"{", b"NaN", b'{"points": NaN}', b"\xff\xfe", b'{"points": 1}}', b"[1, 2"]
)
def test_it_answers_malformed_json_with_400(terminal, card, raw):
    response = terminal.client.post(
        f"{BASE}/cards/{card.number}/points/earn/", raw, content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def nested(depth: int) -> bytes:
    """A JSON object whose "a" holds lists nested until `depth` containers in all."""
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


# Every POST endpoint parses its body the same way.
POST_PATHS = [
    "enrollments/",
    "cards/{number}/points/earn/",
    "cards/{number}/points/redeem/",
    "cards/{number}/points/adjust/",
    "cards/{number}/stamps/",
    "cards/{number}/stamps/redeem/",
    "transactions/1/void/",
    "pins/1/unlock/",
    "terminal/unlock/",
]


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_it_refuses_a_body_nested_deeper_than_32_levels(terminal, card, path, depth):
    response = terminal.client.post(
        f"{BASE}/{path.format(number=card.number)}", nested(depth), content_type="application/json"
    )
    body = assert_error(response, 400, "invalid")
    assert "nested deeper than 32 levels" in body["detail"]


def test_a_body_nested_32_levels_is_taken(terminal, card):
    body = nested(32)[:-1] + f', "points": 1, "staff_pin": "{STAFF_PIN}"}}'.encode()
    response = terminal.client.post(
        f"{BASE}/cards/{card.number}/points/earn/", body, content_type="application/json"
    )
    # The unknown nested field is ignored, like any other.
    assert response.status_code == 201


def test_a_retry_of_a_too_deeply_nested_body_replays_its_400(terminal, card):
    path = f"{BASE}/cards/{card.number}/points/earn/"
    answers = [
        terminal.client.post(
            path, nested(1_000), content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
        )
        for _ in range(2)
    ]
    assert [r.status_code for r in answers] == [400, 400]
    assert answers[0].content == answers[1].content


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"null", b"42", b"true"])
def test_it_answers_a_body_that_is_not_an_object_with_400(terminal, card, body):
    response = terminal.client.post(
        f"{BASE}/cards/{card.number}/points/earn/", body, content_type="application/json"
    )
    body = assert_error(response, 400, "invalid")
    assert "fields" in body


def test_it_answers_another_media_type_with_415(terminal, card):
    response = terminal.client.post(
        f"{BASE}/cards/{card.number}/points/earn/", "points=1", content_type="text/plain"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_it_answers_a_wrong_method_with_405(terminal, card):
    assert_error(terminal.get(f"cards/{card.number}/points/earn/"), 405, "method_not_allowed")
    assert_error(terminal.client.delete(f"{BASE}/cards/{card.number}/"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["nope/", "cards/", "cards", "program", "transactions/1/"])
def test_it_answers_an_unknown_path_with_json_404(terminal, path):
    assert_error(terminal.get(path), 404, "not_found")


def test_validation_errors_name_their_fields(terminal, card):
    response = terminal.post(
        f"cards/{card.number}/points/earn/", {"points": "x", "staff_pin": "12"}
    )
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == {"points", "staff_pin"}


@pytest.mark.parametrize(
    "body",
    [
        {"points": 2**70},
        {"points": 1.5},
        {"points": None},
        {"points": True},
        {"points": 1, "order_reference": "\ud800"},
        {"points": 1, "order_reference": {"nested": []}},
        {"points": 1, "staff_id": 2**64},
    ],
)
def test_odd_values_are_invalid_input_not_server_errors(terminal, card, body):
    response = terminal.post(f"cards/{card.number}/points/earn/", {"staff_pin": STAFF_PIN, **body})
    assert response.status_code in {400, 403}
    assert response.json()["code"] in {"invalid", "pin_invalid"}
    card.refresh_from_db()
    assert card.points_balance == 0


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "é"])
def test_it_refuses_a_malformed_idempotency_key(terminal, card, key):
    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"points": 1, "staff_pin": STAFF_PIN},
        idempotency_key=key,
    )
    body = assert_error(response, 400, "invalid")
    assert body["fields"] == {"Idempotency-Key": ["invalid"]}


def test_the_schema_and_the_docs_are_served(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200


def test_a_void_of_a_void_has_the_error_shape(terminal, card):
    entry = ledger.earn_points(card=card, store=card.enrolled_store, points=1)
    reversal = ledger.void_transaction(entry=entry, store=card.enrolled_store)
    response = terminal.post(f"transactions/{reversal.pk}/void/", {"staff_pin": STAFF_PIN})
    assert_error(response, 409, "not_voidable")


def test_unauthenticated_errors_have_the_shape(db):
    assert_error(APIClient().get(f"{BASE}/program/"), 401, "not_authenticated")


def test_an_oversized_body_is_413_in_the_error_shape(terminal, card, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = terminal.post(
        f"cards/{card.number}/points/earn/",
        {"points": 1, "staff_pin": STAFF_PIN, "order_reference": "x" * 200},
        idempotency_key="big",
    )
    assert_error(response, 413, "too_large")
