from django import forms
from django.contrib import admin, messages

from customers import services
from customers.models import Customer
from loyalty.admin.operations import operation_page
from loyalty.services.anonymisation import anonymise_customer
from merchants.access import scope_for
from merchants.errors import DomainError, InvalidInput
from merchants.scoped_admin import MerchantScopedAdmin


class AnonymiseForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        required=False,
        help_text="E.g. the customer's erasure request; kept in the audit trail.",
    )


class AnonymisedFilter(admin.SimpleListFilter):
    title = "anonymised"
    parameter_name = "anonymised"

    def lookups(self, request, model_admin):
        return [("no", "Not anonymised"), ("yes", "Anonymised")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(anonymized_at__isnull=self.value() == "no")
        return queryset


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
class CustomerAdmin(MerchantScopedAdmin):
    store_path = "cards__enrolled_store"
    store_path_is_many = True
    staff_may_change = True
    form = CustomerForm
    list_display = ["email", "first_name", "last_name", "merchant", "locale", "created_at"]
    list_filter = ["merchant", AnonymisedFilter, "locale", "marketing_consent"]
    actions = ["anonymise"]
    list_select_related = ["merchant"]
    search_fields = ["email", "first_name", "last_name", "phone"]

    # A customer's cards and ledger belong to its merchant: it never moves.
    readonly_fields = ["merchant", "anonymized_at", "created_at"]

    def has_add_permission(self, request):
        # Customers come from enrolment (terminal, enrolment page), with their card.
        return False

    def has_change_permission(self, request, obj=None):
        # An anonymised customer is kept only as a husk for its cards' history.
        if obj is not None and obj.anonymized_at is not None:
            return False
        return super().has_change_permission(request, obj)

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

    def has_operate_permission(self, request) -> bool:
        return self.has_change_permission(request) and scope_for(request.user).may_operate

    @admin.action(
        description="Anonymise selected customers (irreversible)", permissions=["operate"]
    )
    def anonymise(self, request, queryset):
        form = AnonymiseForm(request.POST if request.POST.get("confirmed") else None)
        if form.is_valid():
            done, refused = 0, []
            for customer in queryset:
                try:
                    anonymise_customer(
                        customer=customer, user=request.user, reason=form.cleaned_data["reason"]
                    )
                except DomainError as exc:
                    refused.append(f"{customer}: {exc.detail}")
                else:
                    done += 1
            summary = f"Anonymised {done} customer(s)"
            if refused:
                summary += f"; skipped {len(refused)} ({'; '.join(refused)})"
            self.message_user(
                request, summary + ".", messages.WARNING if refused else messages.SUCCESS
            )
            return None
        return operation_page(
            request,
            self,
            title="Anonymise customers",
            form=form,
            submit_label="Anonymise, irreversibly",
            cancel_url=request.get_full_path(),
            targets=[str(customer) for customer in queryset],
            selected=[customer.pk for customer in queryset],
            action="anonymise",
            warning="This cannot be undone: names, email, phone and birth date are erased; "
            "the cards and their ledger stay, no longer linked to the person; queued emails "
            "are cancelled.",
        )
