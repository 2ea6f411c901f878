"""Shapes of the operations API. As in the terminal API, the serializers check the body's
shape; the services check the rules and answer with the same `fields` when they refuse."""

from rest_framework import serializers

from loyalty.api.serializers import CardOutput
from loyalty.services.ledger import MAX_POINTS_PER_OPERATION
from loyalty.services.pin_assignment import MAX_PINS_AT_ONCE

MAX_CARDS_AT_ONCE = 500
MAX_CARDS_PER_JOB = 20_000


class CardNumbersInput(serializers.Serializer):
    numbers = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=MAX_CARDS_AT_ONCE,
        help_text=f"Card numbers, 1 to {MAX_CARDS_AT_ONCE}.",
    )


class DeactivateInput(CardNumbersInput):
    reason = serializers.CharField(max_length=255)


class ReactivateInput(CardNumbersInput):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class BonusInput(CardNumbersInput):
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS_PER_OPERATION)
    reason = serializers.CharField(max_length=200)


class BonusJobInput(serializers.Serializer):
    numbers = serializers.ListField(
        child=serializers.CharField(max_length=32),
        min_length=1,
        max_length=MAX_CARDS_PER_JOB,
        help_text=f"Card numbers, 1 to {MAX_CARDS_PER_JOB}.",
    )
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS_PER_OPERATION)
    reason = serializers.CharField(max_length=200)


class BonusJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="`queued`, `running` or `done`.")
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    changed = serializers.IntegerField()
    skipped = serializers.DictField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class RestorePointsInput(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS_PER_OPERATION)
    reason = serializers.CharField(max_length=255)


class PinInput(serializers.Serializer):
    staff_name = serializers.CharField(max_length=100)
    pin = serializers.CharField(max_length=8, help_text="4 to 8 digits.")
    is_manager = serializers.BooleanField(required=False, default=False)


class PinsInput(serializers.Serializer):
    pins = serializers.ListField(child=PinInput(), min_length=1, max_length=MAX_PINS_AT_ONCE)


class AnonymiseInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class BulkOutput(serializers.Serializer):
    changed = serializers.ListField(
        child=serializers.CharField(), help_text="Card numbers (or staff names) changed."
    )
    skipped = serializers.DictField(
        child=serializers.CharField(), help_text="Card number (or staff name) -> why."
    )


class CardSearchOutput(CardOutput):
    program = serializers.CharField(source="program.name")
    customer_email = serializers.SerializerMethodField()
    in_trash = serializers.SerializerMethodField()

    def get_customer_email(self, card) -> str:
        return card.customer.email if card.customer_id else ""

    def get_in_trash(self, card) -> bool:
        return card.deleted_at is not None


class AnonymisedOutput(serializers.Serializer):
    id = serializers.IntegerField()
    anonymized_at = serializers.DateTimeField()


class CardPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CardSearchOutput(many=True)
