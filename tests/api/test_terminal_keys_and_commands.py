import io

import pytest
from django.core.management import CommandError, call_command

from loyalty.models import StaffPin, TerminalKey
from tests.api.conftest import Terminal
from tests.factories import StaffPinFactory, UserFactory


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_issue_terminal_key_prints_a_working_key_alone(card, store):
    printed = run("issue_terminal_key", "alice-bakery", "main", "--name", "till 2")
    key = printed.strip()
    assert printed == key + "\n"
    terminal_key = TerminalKey.objects.get(name="till 2")
    assert terminal_key.store == store
    assert key not in terminal_key.hashed_key
    terminal = Terminal(type("Key", (), {"secret": key}))
    assert terminal.get(f"cards/{card.number}/").status_code == 200


def test_issue_terminal_key_refuses_an_unknown_store(store, rival_merchant):
    with pytest.raises(CommandError):
        run("issue_terminal_key", "alice-bakery", "nowhere")
    with pytest.raises(CommandError):
        run("issue_terminal_key", "no-such-merchant", "main")
    assert not TerminalKey.objects.filter(store=store).exists()


def test_set_staff_pin_creates_and_resets_a_pin(store):
    run("set_staff_pin", "alice-bakery", "main", "Kim", "4321", "--manager")
    pin = StaffPin.objects.get(store=store, staff_name="Kim")
    assert pin.is_manager
    StaffPin.objects.filter(pk=pin.pk).update(failed_attempts=3)
    run("set_staff_pin", "alice-bakery", "main", "Kim", "5678")
    pin.refresh_from_db()
    assert (pin.is_manager, pin.failed_attempts) == (False, 0)
    assert StaffPin.objects.filter(store=store, staff_name="Kim").count() == 1


@pytest.mark.parametrize("pin", ["12", "abcd", "123456789"])
def test_set_staff_pin_refuses_a_malformed_pin(store, pin):
    with pytest.raises(CommandError):
        run("set_staff_pin", "alice-bakery", "main", "Kim", pin)
    assert not StaffPin.objects.exists()


def test_set_staff_pin_refuses_a_pin_another_staff_member_has(store):
    StaffPinFactory(store=store, staff_name="Sam", pin="1234")
    with pytest.raises(CommandError):
        run("set_staff_pin", "alice-bakery", "main", "Kim", "1234")


def test_the_admin_issues_a_key_for_a_store_and_shows_it_once(client, store, card):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        "/admin/loyalty/terminalkey/add/",
        {"name": "till 3", "store": store.pk, "expiry_date_0": "", "expiry_date_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    terminal_key = TerminalKey.objects.get(name="till 3")
    assert terminal_key.store == store
    message = next(str(m) for m in response.context["messages"])
    key = next(w for w in message.split() if w.startswith(terminal_key.prefix + ".")).rstrip(".")
    assert (
        Terminal(type("Key", (), {"secret": key})).get(f"cards/{card.number}/").status_code == 200
    )
    # The change page never shows it again.
    page = client.get(f"/admin/loyalty/terminalkey/{terminal_key.pk}/change/")
    assert key not in page.content.decode()
