from django import forms
from django.contrib import admin

from customers import services
from customers.models import Customer
from merchants.errors import InvalidInput


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "locale",
            "marketing_consent",
        ]

    def clean_email(self):
        try:
            email = services.normalize_email(self.cleaned_data["email"])
        except InvalidInput as exc:
            raise forms.ValidationError(exc.detail) from None
        # The merchant is read-only, so the model's constraint check skips this: ask here.
        taken = Customer.objects.filter(
            merchant_id=self.instance.merchant_id, email__iexact=email
        ).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("Another customer of this merchant has this email.")
        return email


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ["email", "first_name", "last_name", "merchant", "locale", "created_at"]
    list_filter = ["merchant", "locale", "marketing_consent"]
    list_select_related = ["merchant"]
    search_fields = ["email", "first_name", "last_name", "phone"]

    # A customer's cards and ledger belong to its merchant: it never moves.
    readonly_fields = ["merchant", "anonymized_at", "created_at"]

    def has_add_permission(self, request):
        # Customers come from enrolment (terminal, enrolment page), with their card.
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        services.update_customer(
            customer=obj,
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            phone=data["phone"],
            birth_date=data["birth_date"],
            locale=data["locale"],
            marketing_consent=data["marketing_consent"],
        )
