import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from loyalty.admin.operations import operation_page, report
from loyalty.admin.trash import SoftDeleteAdmin
from loyalty.errors import DomainError
from loyalty.models import Card
from loyalty.services import bulk_bonus, card_operations
from loyalty.services.ledger import MAX_POINTS_PER_OPERATION

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


class DeactivateForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="Kept in the audit trail, e.g. 'lost'.")


class BonusForm(forms.Form):
    points = forms.IntegerField(min_value=1, max_value=MAX_POINTS_PER_OPERATION)
    reason = forms.CharField(
        max_length=200, help_text="Kept on each card's ledger row and in the audit trail."
    )


CSV_HEADER = [
    "number",
    "merchant",
    "program",
    "enrolled_store",
    "customer_email",
    "points_balance",
    "stamp_count",
    "is_active",
    "in_trash",
    "last_activity_at",
    "created_at",
]


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
        "wallet_pass_state",
        "created_at",
    ]

    actions = [
        "deactivate",
        "reactivate",
        "grant_bonus",
        "export_csv",
        *SoftDeleteAdmin.actions,
    ]
    merchant_path = "program__merchant"
    store_path = "enrolled_store"
    staff_may_change = True
    staff_may_delete = True

    def has_add_permission(self, request):
        return False

    def _operation_form(self, request, queryset, form_class):
        """The action's form, bound once the intermediate page was submitted."""
        return form_class(request.POST if request.POST.get("confirmed") else None)

    def _intermediate(self, request, queryset, form, *, action, title, submit_label):
        return operation_page(
            request,
            self,
            title=title,
            form=form,
            submit_label=submit_label,
            cancel_url=request.get_full_path(),
            targets=[card.number for card in queryset[:51]],
            target_count=queryset.count(),
            # Without "select all", a selection is at most one page of the list.
            selected=list(queryset.values_list("pk", flat=True))
            if request.POST.get("select_across") != "1"
            else [queryset.values_list("pk", flat=True).first()],
            action=action,
        )

    @admin.action(description="Deactivate selected cards (with a reason)", permissions=["operate"])
    def deactivate(self, request, queryset):
        form = self._operation_form(request, queryset, DeactivateForm)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                form,
                action="deactivate",
                title="Deactivate cards",
                submit_label="Deactivate",
            )
        outcome = card_operations.deactivate_cards(
            cards=queryset.select_related("program"),
            reason=form.cleaned_data["reason"],
            user=request.user,
        )
        report(self, request, "Deactivated", outcome)
        return None

    @admin.action(description="Reactivate selected cards", permissions=["operate"])
    def reactivate(self, request, queryset):
        outcome = card_operations.reactivate_cards(
            cards=queryset.select_related("program"), user=request.user
        )
        report(self, request, "Reactivated", outcome)

    @admin.action(description="Grant bonus points to selected cards", permissions=["operate"])
    def grant_bonus(self, request, queryset):
        form = self._operation_form(request, queryset, BonusForm)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                form,
                action="grant_bonus",
                title="Grant bonus points",
                submit_label="Grant the bonus",
            )
        points, reason = form.cleaned_data["points"], form.cleaned_data["reason"]
        merchants = set(queryset.values_list("program__merchant_id", flat=True).distinct())
        if queryset.count() > bulk_bonus.SYNCHRONOUS_LIMIT:
            if len(merchants) != 1:
                self.message_user(
                    request,
                    "A background bonus is for one merchant's cards: filter by programme.",
                    messages.ERROR,
                )
                return None
            try:
                job = bulk_bonus.start_bulk_bonus(
                    merchant_id=merchants.pop(),
                    card_ids=list(queryset.values_list("pk", flat=True)),
                    points=points,
                    reason=reason,
                    user=request.user,
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
                return None
            self.message_user(
                request,
                format_html(
                    'The bonus for {} cards runs in the background: <a href="{}">follow its '
                    "progress</a>.",
                    job.total,
                    reverse("admin:loyalty_bulkbonusjob_change", args=[job.pk]),
                ),
                messages.SUCCESS,
            )
            return None
        outcome = card_operations.grant_bonus(
            cards=queryset.select_related("program"),
            points=points,
            reason=reason,
            user=request.user,
        )
        report(self, request, f"Bonus of {points} points", outcome)
        return None

    @admin.action(description="Export selected cards as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="cards.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        rows = queryset.select_related("program__merchant", "enrolled_store", "customer").order_by(
            "pk"
        )
        for card in rows.iterator(chunk_size=2000):
            writer.writerow(
                [
                    card.number,
                    card.program.merchant.slug,
                    card.program.name,
                    card.enrolled_store.code,
                    card.customer.email if card.customer_id else "",
                    card.points_balance,
                    card.stamp_count,
                    "yes" if card.is_active else "no",
                    "yes" if card.deleted_at else "no",
                    card.last_activity_at.isoformat() if card.last_activity_at else "",
                    card.created_at.isoformat(),
                ]
            )
        return response

    def may_operate(self, request, card=None) -> bool:
        return self.has_change_permission(request, card) and self.has_operate_permission(request)

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
