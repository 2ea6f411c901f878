from django.contrib import admin, messages

from merchants import services
from merchants.errors import DomainError


class TrashedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "In the trash")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        return queryset


class AuditedAdmin(admin.ModelAdmin):
    """Every save from the admin's form goes through `save_with_audit`."""

    def save_model(self, request, obj, form, change):
        services.save_with_audit(obj=obj, actor=request.user, changed=form.changed_data)

    def save_formset(self, request, form, formset, change):
        # Inlines (a merchant's stores, a programme's rewards) never delete: see can_delete.
        for obj in formset.save(commit=False):
            changed = next(f.changed_data for f in formset.forms if f.instance is obj)
            services.save_with_audit(obj=obj, actor=request.user, changed=changed)


class SoftDeleteAdmin(AuditedAdmin):
    """Lists live and trashed rows; deleting moves to the trash, never removes the row."""

    actions = ["move_to_trash", "restore_from_trash"]

    def get_queryset(self, request):
        return self.model.all_objects.get_queryset()

    def get_list_filter(self, request):
        return [TrashedFilter, *super().get_list_filter(request)]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True, description="live")
    def is_live(self, obj) -> bool:
        return obj.deleted_at is None

    @admin.action(description="Move selected to the trash")
    def move_to_trash(self, request, queryset):
        for obj in queryset:
            services.trash(obj=obj)
        self.message_user(request, f"{queryset.count()} moved to the trash.", messages.SUCCESS)

    @admin.action(description="Restore selected from the trash")
    def restore_from_trash(self, request, queryset):
        restored = 0
        for obj in queryset:
            try:
                services.restore(obj=obj)
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                restored += 1
        self.message_user(request, f"{restored} restored.", messages.SUCCESS)
