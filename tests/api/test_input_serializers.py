"""Input serializers share their fields between instances; validation stays per request."""

from loyalty.api.serializers import EarnInput, RedeemInput, StaffInput


def test_instances_of_a_class_share_one_set_of_fields_and_subclasses_their_own():
    assert EarnInput().fields is EarnInput(data={}).fields
    assert set(RedeemInput().fields) == {"staff_pin", "staff_id", "points", "reward_id"}
    assert set(StaffInput().fields) == {"staff_pin", "staff_id"}
    assert RedeemInput().fields is not EarnInput().fields


def test_one_requests_errors_and_data_do_not_reach_the_next():
    wrong = EarnInput(data={"points": 0, "staff_pin": "12"})
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
