from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from messaging.models import EmailTemplate, OutgoingEmail, SuppressedAddress
from messaging.rendering import CompiledTemplate, known_codes, sample_context
from messaging.services.operations import retry_failed_emails, send_test_email


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = [
            "code",
            "locale",
            "merchant",
            "store",
            "is_active",
            "subject",
            "text_body",
            "html_body",
        ]
        widgets = {"code": forms.Select}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.choices = [(code, code) for code in known_codes()]


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    """Every save is checked against the code's sample data (EmailTemplate.clean): a template
    that does not render is refused here, with the part and the reason."""

    form = EmailTemplateForm
    list_display = ["code", "locale", "merchant", "store", "subject", "is_active", "updated_at"]
    list_filter = ["code", "locale", "is_active", ("merchant", admin.EmptyFieldListFilter)]
    list_select_related = ["merchant", "store"]
    search_fields = ["code", "subject", "merchant__name"]
    autocomplete_fields = ["merchant", "store"]
    readonly_fields = ["preview", "created_at", "updated_at"]
    actions = ["send_test_email"]
    fieldsets = [
        (None, {"fields": ["code", "locale", "merchant", "store", "is_active"]}),
        ("Content", {"fields": ["subject", "text_body", "html_body"]}),
        ("Preview with sample data", {"fields": ["preview"]}),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="Preview")
    def preview(self, template: EmailTemplate):
        context = sample_context(template.code)
        if template.pk is None or context is None:
            return "Saved templates are previewed here."
        try:
            # After a refused save the form's unsaved, broken values are on the instance.
            rendered = CompiledTemplate(template).render(context)
        except Exception:
            return "Fix the errors above to see the preview."
        # The HTML part in a sandboxed frame: it cannot run script or reach the admin page.
        return format_html(
            "<p><strong>Subject:</strong> {}</p>"
            '<iframe sandbox srcdoc="{}" title="HTML part" '
            'style="width:100%;max-width:660px;height:520px;border:1px solid #ccc"></iframe>'
            "<pre style='white-space:pre-wrap;max-width:660px'>{}</pre>",
            rendered.subject,
            rendered.html,
            rendered.text,
        )

    @admin.action(description="Send a test email (sample data) to my address")
    def send_test_email(self, request, queryset):
        if not request.user.email:
            self.message_user(request, "Your user has no email address.", messages.ERROR)
            return
        for template in queryset:
            send_test_email(template=template, to=request.user.email)
        self.message_user(
            request, f"Sent {queryset.count()} test email(s) to {request.user.email}."
        )


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "template",
        "to",
        "merchant",
        "locale",
        "status",
        "attempts",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "template", "merchant", "created_at"]
    list_select_related = ["merchant"]
    search_fields = ["=to", "=esp_message_id"]
    raw_id_fields = ["customer", "store"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected failed emails")
    def retry(self, request, queryset):
        retried = retry_failed_emails(email_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {retried} failed email(s) again.")


@admin.register(SuppressedAddress)
class SuppressedAddressAdmin(admin.ModelAdmin):
    """Addresses that get no marketing email; delete a row to lift it."""

    list_display = ["address", "reason", "created_at"]
    list_filter = ["reason"]
    search_fields = ["=address"]
    readonly_fields = ["address", "reason", "detail", "created_at"]

    def has_add_permission(self, request):
        return False
