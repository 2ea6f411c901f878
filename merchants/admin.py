from django.contrib import admin

from merchants.models import Merchant, StaffMembership, Store
from merchants.softdelete_admin import SoftDeleteAdmin


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name"]


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
