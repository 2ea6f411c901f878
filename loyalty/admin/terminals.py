from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from loyalty.admin.base import ReadOnlyAdmin
from loyalty.counter.admin import PairingAdminMixin
from loyalty.models import TaskRun, TerminalKey
from loyalty.services import staff_pins
from merchants.scoped_admin import MerchantScopedAdmin

# Terminals authenticate with TerminalKey, tied to a store; the library's store-less key
# model would only confuse operators.
admin.site.unregister(APIKey)


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
class TerminalKeyAdmin(PairingAdminMixin, MerchantScopedAdmin, APIKeyModelAdmin):
    merchant_path = "store__merchant"
    store_path = "store"
    # Owners and managers give their counters keys, usually by pairing a tablet.
    staff_may_add = True
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

    @admin.action(description="Lift the suspension and unlock PIN entry", permissions=["change"])
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
