from django.contrib import admin
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from loyalty.counter.admin import PairingAdminMixin
from loyalty.models import Card, Program, Reward, StaffPin, TaskRun, TerminalKey, Transaction
from loyalty.services import staff_pins
from merchants.softdelete_admin import SoftDeleteAdmin

# Terminals authenticate with TerminalKey, tied to a store; the library's store-less key
# model would only confuse operators.
admin.site.unregister(APIKey)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that only the system writes: the ledger, the job runs."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RewardInline(admin.TabularInline):
    model = Reward
    extra = 0


@admin.register(Program)
class ProgramAdmin(SoftDeleteAdmin):
    list_display = [
        "name",
        "merchant",
        "kind",
        "points_per_euro",
        "points_expiration_days",
        "is_live",
    ]
    list_filter = ["kind"]
    list_select_related = ["merchant"]
    search_fields = ["name", "merchant__name"]
    inlines = [RewardInline]


class LedgerPaginator(Paginator):
    """The ledger grows without bound: never count it."""

    @cached_property
    def count(self):
        return 10**9


class TransactionInline(admin.TabularInline):
    model = Transaction
    fk_name = "card"
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-id"]
    fields = ["created_at", "type", "points_delta", "points_balance_after", "stamps_delta", "store"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("store")


@admin.register(Card)
class CardAdmin(SoftDeleteAdmin):
    list_display = [
        "number",
        "customer",
        "program",
        "enrolled_store",
        "points_balance",
        "stamp_count",
        "last_activity_at",
        "is_active",
        "is_live",
    ]
    list_filter = ["is_active", "program"]
    list_select_related = ["customer", "program", "enrolled_store__merchant"]
    search_fields = ["=number", "customer__email", "customer__last_name"]
    raw_id_fields = ["customer", "enrolled_store", "program"]
    # Balances change only through the ledger services.
    readonly_fields = [
        "number",
        "points_balance",
        "stamp_count",
        "lifetime_points_earned",
        "lifetime_points_redeemed",
        "lifetime_points_voided",
        "lifetime_points_expired",
        "last_activity_at",
        "last_expiration_warning_at",
        "last_reengagement_at",
        "created_at",
    ]
    inlines = [TransactionInline]

    def has_add_permission(self, request):
        return False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "type",
        "card",
        "store",
        "points_delta",
        "points_balance_after",
        "stamps_delta",
        "stamps_balance_after",
    ]
    list_filter = ["type", "merchant"]
    list_select_related = ["card", "store__merchant"]
    search_fields = ["=card__number", "order_reference"]
    paginator = LedgerPaginator
    # Newest first on the primary key: the ledger has no index on created_at alone.
    ordering = ["-id"]
    show_full_result_count = False


@admin.register(StaffPin)
class StaffPinAdmin(admin.ModelAdmin):
    list_display = [
        "staff_name",
        "store",
        "is_manager",
        "is_active",
        "failed_attempts",
        "locked_until",
    ]
    list_filter = ["is_manager", "is_active"]
    list_select_related = ["store__merchant"]
    search_fields = ["staff_name", "store__code", "store__merchant__name"]
    readonly_fields = ["failed_attempts", "locked_until"]


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return [("yes", "Suspended"), ("no", "Not suspended")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(suspended_at__isnull=self.value() == "no")
        return queryset


@admin.register(TerminalKey)
class TerminalKeyAdmin(PairingAdminMixin, APIKeyModelAdmin):
    list_display = [
        *APIKeyModelAdmin.list_display,
        "store",
        "pin_locked_until",
        "suspended_at",
    ]
    list_filter = [*APIKeyModelAdmin.list_filter, SuspendedFilter]
    list_select_related = ["store__merchant"]
    search_fields = [*APIKeyModelAdmin.search_fields, "store__code", "store__merchant__name"]
    actions = ["lift_suspension"]

    def get_readonly_fields(self, request, obj=None):
        return [
            *super().get_readonly_fields(request, obj),
            "pin_failures",
            "pin_locked_until",
            "last_pin_lock_at",
            "previous_pin_lock_at",
            "suspended_at",
        ]

    @admin.action(description="Lift the suspension and unlock PIN entry")
    def lift_suspension(self, request, queryset):
        suspended = list(queryset.filter(suspended_at__isnull=False))
        for terminal_key in suspended:
            staff_pins.lift_suspension(terminal_key=terminal_key, operator=request.user)
        self.message_user(
            request,
            f"Lifted the suspension of {len(suspended)} terminal key(s); "
            "their PIN entry is unlocked and their count of locks starts again.",
        )


@admin.register(TaskRun)
class TaskRunAdmin(ReadOnlyAdmin):
    """The record of periodic job runs: read-only."""

    list_display = ["task", "scope", "started_at", "finished_at", "status", "counts"]
    list_filter = ["task", "status"]
    date_hierarchy = "started_at"
