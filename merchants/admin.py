from django.contrib import admin

from merchants import services
from merchants.models import AuditEntry, StaffMembership
from merchants.scoped_admin import MerchantScopedAdmin


@admin.register(StaffMembership)
class StaffMembershipAdmin(MerchantScopedAdmin):
    """Operators give a merchant's staff their access; owners and managers see who has it."""

    def save_model(self, request, obj, form, change):
        services.save_with_audit(obj=obj, actor=request.user, changed=form.changed_data)

    list_display = ["user", "merchant", "store", "role"]
    list_filter = ["role", "merchant"]
    list_select_related = ["user", "merchant", "store"]
    raw_id_fields = ["user"]


@admin.register(AuditEntry)
class AuditEntryAdmin(MerchantScopedAdmin):
    """The audit trail: read-only, filterable by action, merchant, kind of row and who."""

    list_display = ["created_at", "action", "object_repr", "object_type", "merchant", "actor"]
    list_filter = ["action", "object_type", "merchant", ("actor", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["merchant", "actor"]
    search_fields = ["object_repr", "object_id", "reason"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "actor",
        "merchant",
        "object_type",
        "object_id",
        "object_repr",
        "action",
        "reason",
        "changes",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
