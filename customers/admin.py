from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "merchant", "locale", "created_at"]
    list_filter = ["merchant", "locale", "marketing_consent"]
    list_select_related = ["merchant"]
    search_fields = ["email", "first_name", "last_name", "phone"]
    readonly_fields = ["anonymized_at", "created_at"]
