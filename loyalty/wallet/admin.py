"""Wallet passes in the admin: whether the wallet is configured (and why not), the passes
waiting or failing, and pushing chosen passes again."""

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured

from loyalty.models import WalletPass
from loyalty.services.task_runs import run_recorded
from loyalty.tasks import SYNC_WALLET_PASSES
from loyalty.wallet.services import FAILING_AFTER_RUNS, sync_stale_passes
from loyalty.wallet.status import wallet_status


class FailingFilter(admin.SimpleListFilter):
    title = "sync"
    parameter_name = "failing"

    def lookups(self, request, model_admin):
        return [
            ("failing", f"Failing in {FAILING_AFTER_RUNS}+ runs in a row"),
            ("failed", "Failed in the last run"),
            ("stale", "Waiting for a push"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "failing":
            return queryset.filter(failed_runs__gte=FAILING_AFTER_RUNS)
        if self.value() == "failed":
            return queryset.filter(failed_runs__gt=0)
        if self.value() == "stale":
            return queryset.filter(card__wallet_pass_state="stale")
        return queryset


@admin.register(WalletPass)
class WalletPassAdmin(admin.ModelAdmin):
    list_display = [
        "card",
        "state",
        "requested_at",
        "synced_at",
        "failed_runs",
        "last_failed_at",
        "last_error",
    ]
    list_filter = [FailingFilter]
    list_select_related = ["card"]
    search_fields = ["=card__number"]
    ordering = ["-failed_runs", "-requested_at"]
    actions = ["push_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="state", ordering="card__wallet_pass_state")
    def state(self, wallet_pass):
        return wallet_pass.card.get_wallet_pass_state_display()

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {**(extra_context or {}), "wallet_status": wallet_status()}
        )

    @admin.action(description="Push the selected passes again now")
    def push_again(self, request, queryset):
        card_ids = sorted(queryset.values_list("card_id", flat=True))
        try:
            # Recorded as a sync run, as `manage.py sync_wallet` is.
            counts = run_recorded(
                task=SYNC_WALLET_PASSES,
                scope=f"admin, cards {','.join(map(str, card_ids))}"[:255],
                work=lambda: sync_stale_passes(force=True, card_ids=card_ids).as_dict(),
            )
        except ImproperlyConfigured as exc:
            self.message_user(request, f"Google Wallet is not configured: {exc}", messages.ERROR)
            return
        if counts["failed"]:
            self.message_user(
                request,
                f"Pushed {counts['pushed']} pass(es); {counts['failed']} failed: see their "
                "last error.",
                messages.WARNING,
            )
        else:
            self.message_user(request, f"Pushed {counts['pushed']} pass(es).")
