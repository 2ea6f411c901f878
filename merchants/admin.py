from django.contrib import admin

from merchants.models import AuditEntry, Merchant, StaffMembership, Store
from merchants.softdelete_admin import SoftDeleteAdmin


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name"]
    # A store is trashed from its own page, never deleted from its merchant's.
    can_delete = False


@admin.register(Merchant)
class MerchantAdmin(SoftDeleteAdmin):
    list_display = ["name", "slug", "timezone", "default_locale", "is_live"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StoreInline]


@admin.register(Store)
class StoreAdmin(SoftDeleteAdmin):
    list_display = ["code", "name", "merchant", "is_live"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["code", "name", "merchant__name"]


@admin.register(StaffMembership)
class StaffMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "store", "role"]
    list_filter = ["role", "merchant"]
    list_select_related = ["user", "merchant", "store"]
    raw_id_fields = ["user"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
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
