from django.contrib import admin

from loyalty.models import Card, Transaction
from merchants.softdelete_admin import SoftDeleteAdmin


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
    # Cards are made by enrolment and never move: another programme would leave their ledger
    # with the old merchant. Balances change only through the ledger services, activation
    # only through the deactivate and reactivate actions.
    readonly_fields = [
        "number",
        "program",
        "customer",
        "enrolled_store",
        "is_active",
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
