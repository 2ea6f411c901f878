"""Trash and restore for merchants, stores, programmes and cards.

The admin's delete moves a row (and everything under it) to the trash; a Trash filter shows
it; Restore brings back exactly what that trash operation took; superusers alone delete rows
permanently, after a confirmation page that lists everything that will go and refuses rows
with ledger history."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from loyalty.admin.operations import operation_page
from loyalty.services import trash as permanent
from merchants import services
from merchants.access import scope_for
from merchants.errors import DomainError
from merchants.scoped_admin import MerchantScopedAdmin


class TrashedFilter(admin.SimpleListFilter):
    """Live rows unless asked otherwise: the trash is where one goes on purpose."""

    title = "trash"
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("yes", "In the trash"), ("all", "Live and trashed")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class AuditedAdmin(admin.ModelAdmin):
    """Every save from the admin's forms goes through `save_with_audit`."""

    def save_model(self, request, obj, form, change):
        services.save_with_audit(obj=obj, actor=request.user, changed=form.changed_data)

    def save_formset(self, request, form, formset, change):
        # Inlines (a merchant's stores, a programme's rewards) never delete: see can_delete.
        for obj in formset.save(commit=False):
            changed = next(f.changed_data for f in formset.forms if f.instance is obj)
            services.save_with_audit(obj=obj, actor=request.user, changed=changed)


class SoftDeleteAdmin(MerchantScopedAdmin, AuditedAdmin):
    actions = ["move_to_trash", "restore_from_trash", "delete_permanently"]

    def get_queryset(self, request):
        return self.scoped(request, self.model.all_objects.get_queryset())

    def get_list_filter(self, request):
        return [TrashedFilter, *super().get_list_filter(request)]

    def get_search_results(self, request, queryset, search_term):
        # Autocompletes offer live rows only: a trashed store is no choice for a new PIN.
        if request.path == reverse("admin:autocomplete"):
            queryset = queryset.filter(deleted_at__isnull=True)
        return super().get_search_results(request, queryset, search_term)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Django's own delete would remove rows the ledger points at; "move to the trash"
        # takes its place.
        actions.pop("delete_selected", None)
        return actions

    def has_operate_permission(self, request) -> bool:
        """Operations (bulk actions, point restores): operators who may change the rows,
        and a merchant's owners and managers."""
        return self.has_change_permission(request) and scope_for(request.user).may_operate

    def has_delete_permanently_permission(self, request) -> bool:
        return request.user.is_superuser

    @admin.display(boolean=True, description="live")
    def is_live(self, obj) -> bool:
        return obj.deleted_at is None

    def trash_with_message(self, request, objs) -> None:
        trashed, cascade = 0, {}
        for obj in objs:
            if obj.deleted_at is not None:
                continue
            for label, count in services.trash(obj=obj, actor=request.user).items():
                cascade[label] = cascade.get(label, 0) + count
            trashed += 1
        also = ", ".join(f"{count} {label}" for label, count in cascade.items() if count)
        self.message_user(
            request,
            f"{trashed} moved to the trash" + (f", with {also}" if also else "") + ".",
            messages.SUCCESS,
        )

    def delete_view(self, request, object_id, extra_context=None):
        """The admin's delete moves the row to the trash, after a confirmation."""
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_delete_permission(request, obj):
            raise PermissionDenied
        opts = self.model._meta
        if request.method == "POST":
            self.trash_with_message(request, [obj])
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
            )
        return operation_page(
            request,
            self,
            title=f"Move {obj} to the trash",
            form=None,
            submit_label="Move to the trash",
            cancel_url=reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            original=obj,
            intro="It is hidden, with everything under it (a merchant's stores, programmes and "
            "cards), and kept: Restore brings back exactly what this took.",
        )

    @admin.action(description="Move selected to the trash", permissions=["delete"])
    def move_to_trash(self, request, queryset):
        self.trash_with_message(request, queryset)

    @admin.action(description="Restore selected from the trash", permissions=["delete"])
    def restore_from_trash(self, request, queryset):
        restored = 0
        for obj in queryset.filter(deleted_at__isnull=False):
            try:
                services.restore(obj=obj, actor=request.user)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                restored += 1
        self.message_user(request, f"{restored} restored.", messages.SUCCESS)

    @admin.action(
        description="Delete selected permanently (superusers)",
        permissions=["delete_permanently"],
    )
    def delete_permanently(self, request, queryset):
        if not request.user.is_superuser:
            raise PermissionDenied
        plans = [permanent.deletion_plan(obj) for obj in queryset]
        if request.POST.get("confirmed") == "yes":
            deleted, refused = 0, []
            for plan in plans:
                try:
                    permanent.delete_permanently(obj=plan.obj, actor=request.user)
                except DomainError as exc:
                    refused.append(f"{plan.obj}: {exc.detail}")
                else:
                    deleted += 1
            self.message_user(request, f"{deleted} deleted permanently.", messages.SUCCESS)
            for refusal in refused:
                self.message_user(request, refusal, messages.ERROR)
            return None
        opts = self.model._meta
        return TemplateResponse(
            request,
            "admin/loyalty/delete_permanently.html",
            {
                **self.admin_site.each_context(request),
                "opts": opts,
                "title": "Delete permanently",
                "plans": plans,
                "deletable": [
                    plan
                    for plan in plans
                    if plan.obj.deleted_at is not None and not plan.has_ledger_history
                ],
                "action": "delete_permanently",
                "cancel_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            },
        )
