from django.contrib import admin

from loyalty.admin.trash import SoftDeleteAdmin
from merchants.models import Merchant, Store


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name"]
    # A store is trashed from its own page, never deleted from its merchant's.
    can_delete = False


@admin.register(Merchant)
class MerchantAdmin(SoftDeleteAdmin):
    merchant_path = "pk"
    store_path = "stores"
    store_path_is_many = True
    # Owners and managers edit their merchant's details; only operators add or trash one.
    staff_may_change = True
    list_display = ["name", "slug", "timezone", "default_locale", "is_live"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StoreInline]


@admin.register(Store)
class StoreAdmin(SoftDeleteAdmin):
    store_path = "pk"
    staff_may_add = True
    staff_may_change = True
    staff_may_delete = True
    list_display = ["code", "name", "merchant", "is_live"]
    list_filter = ["merchant"]
    list_select_related = ["merchant"]
    search_fields = ["code", "name", "merchant__name"]
