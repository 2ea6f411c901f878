import datetime

import pytest
from django.utils import timezone

from customers.models import Customer
from loyalty.models import Card, Program, Transaction
from loyalty.services import ledger
from tests.api.conftest import STAFF_PIN, Terminal
from tests.factories import CardFactory, CustomerFactory, RewardFactory, TerminalKeyFactory

# Programme


def test_it_shows_the_terminals_programme(terminal, program):
    RewardFactory(program=program, name="Coffee", points_cost=100)
    RewardFactory(program=program, name="Old", points_cost=5, is_active=False)
    response = terminal.get("program/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == program.name
    assert body["merchant"] == "alice-bakery"
    assert body["store"] == "main"
    assert body["require_staff_pin"] is True
    assert [r["name"] for r in body["rewards"]] == ["Coffee"]


def test_it_answers_no_live_programme(terminal, program):
    Program.objects.filter(pk=program.pk).update(deleted_at=timezone.now())
    response = terminal.get("program/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_live_program"


# Card lookup


def test_it_looks_up_a_card(terminal, card):
    ledger.earn_points(card=card, store=card.enrolled_store, points=7)
    response = terminal.get(f"cards/{card.number}/")
    assert response.status_code == 200
    assert response.json() == {
        "number": card.number,
        "points_balance": 7,
        "stamp_count": 0,
        "stamps_target": 5,
        "is_active": True,
        "enrolled_store": "main",
        "customer_first_name": card.customer.first_name,
        "last_activity_at": response.json()["last_activity_at"],
    }
    assert response.json()["last_activity_at"] is not None


def test_it_looks_up_a_card_of_another_store_of_the_merchant(terminal, program, other_store):
    card = CardFactory(program=program, enrolled_store=other_store)
    response = terminal.get(f"cards/{card.number}/")
    assert response.status_code == 200
    assert response.json()["enrolled_store"] == "north"


def test_it_shows_an_anonymised_customer_without_a_name(terminal, card):
    Card.objects.filter(pk=card.pk).update(customer=None)
    response = terminal.get(f"cards/{card.number}/")
    assert response.json()["customer_first_name"] == ""


@pytest.mark.parametrize("number", ["123", "abcdefghijkl", "0000-0000-000x", "%00"])
def test_it_does_not_find_a_malformed_card_number(terminal, number):
    response = terminal.get(f"cards/{number}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_does_not_find_a_trashed_card(terminal, card):
    Card.all_objects.filter(pk=card.pk).update(deleted_at=timezone.now())
    assert terminal.get(f"cards/{card.number}/").status_code == 404


# Card transactions


def test_it_lists_a_cards_ledger_newest_first_in_pages(terminal, card):
    entries = [
        ledger.earn_points(card=card, store=card.enrolled_store, points=n) for n in range(1, 6)
    ]
    response = terminal.get(f"cards/{card.number}/transactions/?page_size=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert body["previous"] is None
    assert "page=2" in body["next"]
    assert [row["id"] for row in body["results"]] == [entries[4].pk, entries[3].pk]
    assert body["results"][0]["points_delta"] == 5
    assert body["results"][0]["store"] == "main"
    last = terminal.get(f"cards/{card.number}/transactions/?page_size=2&page=3").json()
    assert [row["id"] for row in last["results"]] == [entries[0].pk]


def test_it_caps_the_page_size_at_500(terminal, card):
    Transaction.objects.bulk_create(
        Transaction(
            card=card,
            merchant_id=card.program.merchant_id,
            type="points_adjusted",
            points_delta=0,
            points_balance_after=0,
            stamps_delta=0,
            stamps_balance_after=0,
            reason="filler",
        )
        for _ in range(501)
    )
    response = terminal.get(f"cards/{card.number}/transactions/?page_size=100000")
    assert response.status_code == 200
    assert len(response.json()["results"]) == 500
    assert response.json()["count"] == 501


def test_it_shows_system_entries_without_a_store(terminal, card):
    ledger.adjust_points(card=card, points=3, reason="Goodwill")
    row = terminal.get(f"cards/{card.number}/transactions/").json()["results"][0]
    assert row["store"] is None


def test_it_does_not_find_a_page_past_the_end(terminal, card):
    response = terminal.get(f"cards/{card.number}/transactions/?page=9")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_does_not_list_the_ledger_of_another_merchants_card(terminal, rival_merchant):
    response = terminal.get(f"cards/{rival_merchant['card'].number}/transactions/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# Enrolment


def test_it_enrols_a_customer_with_the_welcome_bonus(terminal, program):
    program.welcome_bonus_points = 25
    program.save()
    response = terminal.post(
        "enrollments/",
        {
            "email": "Zoe@Example.com",
            "first_name": "Zoé",
            "last_name": "Weis",
            "phone": "+352 691 000 000",
            "birth_date": "1990-04-01",
            "locale": "fr",
            "staff_pin": STAFF_PIN,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["points_balance"] == 25
    assert body["welcome_bonus_points"] == 25
    assert body["enrolled_store"] == "main"
    assert body["customer_first_name"] == "Zoé"
    customer = Customer.objects.get(email="Zoe@example.com")
    assert customer.locale == "fr"
    assert customer.birth_date == datetime.date(1990, 4, 1)
    assert Card.objects.get(number=body["number"]).customer == customer


def test_it_enrols_with_only_an_email_and_a_first_name(terminal, program):
    response = terminal.post(
        "enrollments/",
        {"email": "a@example.com", "first_name": "A", "last_name": "", "staff_pin": STAFF_PIN},
    )
    assert response.status_code == 201


def test_it_refuses_to_enrol_a_customer_twice(terminal, program, merchant, store):
    customer = CustomerFactory(merchant=merchant, email="ann@example.com")
    CardFactory(program=program, customer=customer, enrolled_store=store)
    response = terminal.post(
        "enrollments/",
        {"email": "ann@example.com", "first_name": "Ann", "staff_pin": STAFF_PIN},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "already_enrolled"
    assert Card.objects.filter(customer=customer).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "first_name": "A"}, "email"),
        ({"email": "a@example.com"}, "first_name"),
        ({"email": "a@example.com", "first_name": "A", "birth_date": "2999-01-01"}, "birth_date"),
        ({"email": "a@example.com", "first_name": "A", "birth_date": "1800-01-01"}, "birth_date"),
        ({"email": "a@example.com", "first_name": "A", "locale": "xx"}, "locale"),
        ({"email": "a@example.com", "first_name": "A" * 101}, "first_name"),
        ({"email": "a@example.com", "first_name": "A\x00"}, "first_name"),
    ],
)
def test_it_refuses_invalid_enrolment_input(terminal, program, body, field):
    response = terminal.post("enrollments/", {**body, "staff_pin": STAFF_PIN})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Card.objects.exists()


def test_it_refuses_to_enrol_without_the_required_pin(terminal, program):
    response = terminal.post("enrollments/", {"email": "a@example.com", "first_name": "A"})
    assert response.status_code == 403
    assert response.json()["code"] == "pin_invalid"
    assert not Customer.objects.exists()


def test_it_refuses_to_enrol_without_a_live_programme(terminal, program):
    Program.objects.filter(pk=program.pk).update(deleted_at=timezone.now())
    response = terminal.post(
        "enrollments/", {"email": "a@example.com", "first_name": "A", "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "no_live_program"


def test_enrolment_stays_inside_the_terminals_merchant(rival_terminal, program, rival_merchant):
    response = rival_terminal.post(
        "enrollments/", {"email": "a@example.com", "first_name": "A", "staff_pin": STAFF_PIN}
    )
    assert response.status_code == 201
    card = Card.objects.get(number=response.json()["number"])
    assert card.program == rival_merchant["program"]
    assert not Card.objects.filter(program=program).exists()


# Authentication


@pytest.mark.parametrize(
    "header",
    [None, "Api-Key", "Api-Key nope", "Bearer abc", "Api-Key abcdefgh.wrongsecret", "Api-Key é"],
)
def test_it_refuses_a_missing_or_bad_key(client, card, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(f"/api/v1/terminal/cards/{card.number}/", **extra)
    assert response.status_code == 401
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert response.headers["WWW-Authenticate"] == "Api-Key"


def test_it_refuses_a_revoked_key(card, store):
    key = TerminalKeyFactory(store=store)
    key.revoked = True
    key.save()
    response = Terminal(key).get(f"cards/{card.number}/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_it_refuses_an_expired_key(card, store):
    key = TerminalKeyFactory(store=store, expiry_date=timezone.now() - datetime.timedelta(1))
    assert Terminal(key).get(f"cards/{card.number}/").status_code == 401


def test_it_refuses_the_key_of_a_trashed_store(card, other_store):
    key = TerminalKeyFactory(store=other_store)
    type(other_store).all_objects.filter(pk=other_store.pk).update(deleted_at=timezone.now())
    assert Terminal(key).get(f"cards/{card.number}/").status_code == 401


def test_a_key_with_the_right_prefix_and_a_wrong_secret_is_refused(card, terminal_key):
    prefix = terminal_key.secret.partition(".")[0]
    key = type("Key", (), {"secret": f"{prefix}.{'x' * 32}"})
    assert Terminal(key).get(f"cards/{card.number}/").status_code == 401


def test_enrolling_beside_a_live_card_of_a_trashed_programme_is_a_409(terminal, program, store):
    """Was a 500 (RuntimeError): the old programme was trashed without its cards."""
    old_card = ledger.enroll_customer(
        program=program, store=store, email="ann@example.com", first_name="Ann"
    )
    Program.all_objects.filter(pk=program.pk).update(deleted_at=timezone.now())
    Program.objects.create(merchant=program.merchant, name="New", require_staff_pin=True)

    response = terminal.post(
        "enrollments/", {"email": "ann@example.com", "first_name": "Ann", "staff_pin": STAFF_PIN}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "retired_program_card"
    assert list(Card.objects.filter(customer=old_card.customer)) == [old_card]
