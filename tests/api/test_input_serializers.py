"""Input serializers check the body's shape; every request gets fields of its own."""

from loyalty.api.serializers import EarnInput, RedeemInput


def test_no_field_instance_is_shared_between_requests_or_serializers():
    first, second = EarnInput(data={}), EarnInput(data={})
    assert first.fields["staff_pin"] is not second.fields["staff_pin"]
    assert first.fields["points"] is not RedeemInput().fields["points"]


def test_one_requests_errors_and_data_do_not_reach_the_next():
    wrong = EarnInput(data={"points": "many", "staff_pin": "12"})
    assert not wrong.is_valid()
    assert set(wrong.errors) == {"points", "staff_pin"}

    right = EarnInput(data={"purchase_amount_cents": 250, "staff_pin": "1234"})
    assert right.is_valid(), right.errors
    assert right.validated_data == {
        "purchase_amount_cents": 250,
        "staff_pin": "1234",
        "order_reference": "",
    }
    assert wrong.errors and not right.errors
