"""Terminal API shapes. Input serializers check types and bounds only; the rules live in
the services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.models import Card, Program, Reward, StaffPin, Transaction
from loyalty.pins import PIN_PATTERN
from loyalty.services.ledger import (
    MAX_POINTS_PER_OPERATION,
    MAX_PURCHASE_CENTS,
    MAX_STAMPS_PER_OPERATION,
)
from merchants.models import Locale

MAX_ID = 2**63 - 1


class StaffInput(serializers.Serializer):
    staff_pin = serializers.RegexField(
        PIN_PATTERN,
        required=False,
        help_text="The PIN of the staff member at the terminal (4 to 8 digits). Required "
        "when the programme requires PINs, and a manager's PIN for adjust and unlock.",
    )
    staff_id = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Optional: the id of the staff member's PIN. With it, wrong PINs count "
        "against that PIN; without it, against this terminal.",
    )


class EnrollmentInput(StaffInput):
    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100, required=False, default="")
    phone = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    locale = serializers.ChoiceField(Locale.choices, required=False, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, default=False)


class EarnInput(StaffInput):
    purchase_amount_cents = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PURCHASE_CENTS
    )
    points = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_POINTS_PER_OPERATION
    )
    order_reference = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )

    def validate(self, attrs):
        if ("purchase_amount_cents" in attrs) == ("points" in attrs):
            raise serializers.ValidationError("Give either purchase_amount_cents or points.")
        return attrs


class RedeemInput(StaffInput):
    points = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_POINTS_PER_OPERATION
    )
    reward_id = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate(self, attrs):
        if ("points" in attrs) == ("reward_id" in attrs):
            raise serializers.ValidationError("Give either points or reward_id.")
        return attrs


class AdjustInput(StaffInput):
    points = serializers.IntegerField(
        min_value=-MAX_POINTS_PER_OPERATION,
        max_value=MAX_POINTS_PER_OPERATION,
        help_text="Points to add (positive) or take off (negative); not zero.",
    )
    reason = serializers.CharField(max_length=255)


class StampsInput(StaffInput):
    count = serializers.IntegerField(
        required=False, default=1, min_value=1, max_value=MAX_STAMPS_PER_OPERATION
    )


class VoidInput(StaffInput):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class RewardOutput(serializers.ModelSerializer):
    class Meta:
        model = Reward
        fields = ["id", "name", "points_cost"]


class ProgramOutput(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.slug")
    store = serializers.SerializerMethodField()
    rewards = serializers.SerializerMethodField()

    class Meta:
        model = Program
        fields = [
            "name",
            "kind",
            "merchant",
            "store",
            "points_per_euro",
            "minimum_purchase_cents",
            "welcome_bonus_points",
            "stamps_target",
            "reward_description",
            "allow_cross_location_redemption",
            "require_staff_pin",
            "rewards",
        ]

    def get_store(self, program) -> str:
        return self.context["store"].code

    @extend_schema_field(RewardOutput(many=True))
    def get_rewards(self, program):
        return RewardOutput(program.rewards.filter(is_active=True), many=True).data


class CardOutput(serializers.ModelSerializer):
    stamps_target = serializers.IntegerField(source="program.stamps_target")
    enrolled_store = serializers.CharField(source="enrolled_store.code")
    customer_first_name = serializers.SerializerMethodField()

    class Meta:
        model = Card
        fields = [
            "number",
            "points_balance",
            "stamp_count",
            "stamps_target",
            "is_active",
            "enrolled_store",
            "customer_first_name",
            "last_activity_at",
        ]

    def get_customer_first_name(self, card) -> str:
        # Empty once the customer is anonymised.
        return card.customer.first_name if card.customer_id else ""


class EnrollmentOutput(CardOutput):
    welcome_bonus_points = serializers.SerializerMethodField()

    class Meta(CardOutput.Meta):
        fields = [*CardOutput.Meta.fields, "welcome_bonus_points"]

    def get_welcome_bonus_points(self, card) -> int:
        program = card.program
        return program.welcome_bonus_points if program.has_points else 0


class TransactionOutput(serializers.ModelSerializer):
    store = serializers.SerializerMethodField()
    voided_by = serializers.SerializerMethodField()
    voids = serializers.IntegerField(source="voids_id", read_only=True, allow_null=True)

    class Meta:
        model = Transaction
        fields = [
            "id",
            "type",
            "points_delta",
            "points_balance_after",
            "stamps_delta",
            "stamps_balance_after",
            "purchase_amount_cents",
            "order_reference",
            "reason",
            "store",
            "created_at",
            "voided_by",
            "voids",
        ]

    def get_store(self, entry) -> str | None:
        return entry.store.code if entry.store_id else None

    def get_voided_by(self, entry) -> int | None:
        # Listed rows carry it as an annotation; a row just written is not voided.
        return getattr(entry, "voided_by_pk", None)


class TransactionPageOutput(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TransactionOutput(many=True)


class LedgerOperationOutput(serializers.Serializer):
    transaction = TransactionOutput()
    card = CardOutput()


class StaffPinOutput(serializers.ModelSerializer):
    store = serializers.CharField(source="store.code")

    class Meta:
        model = StaffPin
        fields = ["id", "staff_name", "store", "is_manager", "failed_attempts", "locked_until"]


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable.")
    detail = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input: messages per field.",
    )
