from django.contrib import admin

from messaging.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["created_at", "template", "to", "merchant", "status", "sent_at"]
    list_filter = ["status", "template", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["to"]
    raw_id_fields = ["customer"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
