"""Terminal API shapes. Input serializers check the body's shape (types, lengths, formats);
bounds and rules are checked once, by the services, whose refusals carry the same `fields`."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from loyalty.models import Program, TransactionType
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
    last_name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True, default=None)
    locale = serializers.ChoiceField(Locale.choices, required=False, allow_null=True, default=None)
    marketing_consent = serializers.BooleanField(required=False, default=False)


class EarnInput(StaffInput):
    purchase_amount_cents = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"The purchase, in cents: 1 to {MAX_PURCHASE_CENTS}. Give this or `points`.",
    )
    points = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"Points to add: 1 to {MAX_POINTS_PER_OPERATION}. Give this or the amount.",
    )
    order_reference = serializers.CharField(
        max_length=100, required=False, default="", allow_blank=True
    )


class RedeemInput(StaffInput):
    points = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text=f"Points to take off: 1 to {MAX_POINTS_PER_OPERATION}. Give this or a reward.",
    )
    reward_id = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )


class AdjustInput(StaffInput):
    points = serializers.IntegerField(
        help_text="Points to add (positive) or take off (negative): not zero, at most "
        f"{MAX_POINTS_PER_OPERATION} either way.",
    )
    reason = serializers.CharField(max_length=255, allow_blank=True)


class StampsInput(StaffInput):
    count = serializers.IntegerField(
        required=False, default=1, help_text=f"1 to {MAX_STAMPS_PER_OPERATION}; 1 by default."
    )


class VoidInput(StaffInput):
    reason = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


# Output serializers are plain Serializers: a ModelSerializer inspects the model again for
# every response (slow on the hot path), and its integer bounds depend on the database, which
# would make the schema differ between SQLite and PostgreSQL.


class RewardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    points_cost = serializers.IntegerField()


class ProgramOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(Program.Kind.choices)
    merchant = serializers.CharField(source="merchant.slug")
    store = serializers.SerializerMethodField()
    points_per_euro = serializers.DecimalField(max_digits=8, decimal_places=4)
    minimum_purchase_cents = serializers.IntegerField()
    welcome_bonus_points = serializers.IntegerField()
    stamps_target = serializers.IntegerField()
    reward_description = serializers.CharField()
    allow_cross_location_redemption = serializers.BooleanField()
    require_staff_pin = serializers.BooleanField()
    rewards = serializers.SerializerMethodField()

    def get_store(self, program) -> str:
        return self.context["store"].code

    @extend_schema_field(RewardOutput(many=True))
    def get_rewards(self, program):
        return RewardOutput(program.rewards.filter(is_active=True), many=True).data


class CardOutput(serializers.Serializer):
    number = serializers.CharField()
    points_balance = serializers.IntegerField()
    stamp_count = serializers.IntegerField()
    stamps_target = serializers.IntegerField(source="program.stamps_target")
    is_active = serializers.BooleanField()
    enrolled_store = serializers.CharField(source="enrolled_store.code")
    customer_first_name = serializers.SerializerMethodField()
    last_activity_at = serializers.DateTimeField(allow_null=True)

    def get_customer_first_name(self, card) -> str:
        # Empty once the customer is anonymised.
        return card.customer.first_name if card.customer_id else ""


class EnrollmentOutput(CardOutput):
    welcome_bonus_points = serializers.SerializerMethodField()

    def get_welcome_bonus_points(self, card) -> int:
        program = card.program
        return program.welcome_bonus_points if program.has_points else 0


class TransactionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.ChoiceField(TransactionType.choices)
    points_delta = serializers.IntegerField()
    points_balance_after = serializers.IntegerField()
    stamps_delta = serializers.IntegerField()
    stamps_balance_after = serializers.IntegerField()
    purchase_amount_cents = serializers.IntegerField(allow_null=True)
    order_reference = serializers.CharField()
    reason = serializers.CharField()
    store = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    voided_by = serializers.SerializerMethodField()
    voids = serializers.IntegerField(source="voids_id", allow_null=True)

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


class StaffPinOutput(serializers.Serializer):
    id = serializers.IntegerField()
    staff_name = serializers.CharField()
    store = serializers.CharField(source="store.code")
    is_manager = serializers.BooleanField()
    failed_attempts = serializers.IntegerField()
    locked_until = serializers.DateTimeField(allow_null=True)


class TerminalUnlockInput(serializers.Serializer):
    staff_pin = serializers.RegexField(PIN_PATTERN, help_text="A manager's PIN (4 to 8 digits).")
    staff_id = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        help_text="The id of that manager's PIN: wrong PINs count against it.",
    )


class TerminalOutput(serializers.Serializer):
    prefix = serializers.CharField(help_text="The key's public prefix.")
    store = serializers.CharField(source="store.code")
    pin_locked_until = serializers.DateTimeField(
        allow_null=True, help_text="While set and in the future, PIN entry is locked."
    )


class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable.")
    detail = serializers.CharField(help_text="For people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input: messages per field.",
    )
