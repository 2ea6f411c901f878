from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from loyalty.admin.operations import operation_page
from loyalty.admin.trash import SoftDeleteAdmin
from loyalty.errors import DomainError
from loyalty.models import Card
from loyalty.services import card_operations
from loyalty.services.ledger import MAX_POINTS_PER_OPERATION
from merchants.access import scope_for

LEDGER_PAGE_SIZE = 20


class RestorePointsForm(forms.Form):
    points = forms.IntegerField(
        min_value=1,
        max_value=MAX_POINTS_PER_OPERATION,
        help_text="Points to give back, e.g. what a wrong expiry took.",
    )
    reason = forms.CharField(
        max_length=255, help_text="Kept on the ledger row and in the audit trail."
    )


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

    def has_add_permission(self, request):
        return False

    def may_operate(self, request, card=None) -> bool:
        return self.has_change_permission(request, card) and scope_for(request.user).may_operate

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/restore-points/",
                self.admin_site.admin_view(self.restore_points_view),
                name=f"{opts.app_label}_{opts.model_name}_restore_points",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        card = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if card is not None:
            # The ledger read-only and paginated, newest first on the (card, -id) index.
            paginator = Paginator(
                card.transactions.select_related("store", "acting_admin").order_by("-id"),
                LEDGER_PAGE_SIZE,
            )
            extra_context["ledger_page"] = paginator.get_page(request.GET.get("ledger_page"))
            extra_context["may_restore_points"] = self.may_operate(request, card)
        return super().change_view(request, object_id, form_url, extra_context)

    def restore_points_view(self, request, object_id):
        card = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.may_operate(request, card):
            raise PermissionDenied
        change_url = reverse("admin:loyalty_card_change", args=[card.pk])
        form = RestorePointsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                entry = card_operations.restore_points(
                    card=card,
                    points=form.cleaned_data["points"],
                    reason=form.cleaned_data["reason"],
                    user=request.user,
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                self.message_user(
                    request,
                    f"Restored {entry.points_delta} points to card {card.number}; "
                    f"its balance is {entry.points_balance_after}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
        return operation_page(
            request,
            self,
            title=f"Restore points to card {card.number}",
            form=form,
            submit_label="Restore points",
            cancel_url=change_url,
            original=card,
            intro=f"Balance now: {card.points_balance} points. The points are written to the "
            "ledger as an adjustment, stamped with your name.",
        )
