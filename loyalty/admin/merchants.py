from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from loyalty.admin.trash import SoftDeleteAdmin
from merchants.models import MAX_LOGO_BYTES, Merchant, Store, logo_content_type


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name"]
    # A store is trashed from its own page, never deleted from its merchant's.
    can_delete = False


class MerchantForm(forms.ModelForm):
    """The logo is uploaded as a file and kept in the merchant's row (see Merchant.logo)."""

    logo_file = forms.FileField(
        label="Logo",
        required=False,
        help_text=f"PNG, JPEG or WebP, up to {filesizeformat(MAX_LOGO_BYTES)}; shown in the "
        "customer pages' header. Empty: the merchant's name alone.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)

    class Meta:
        model = Merchant
        fields = ["name", "slug", "timezone", "default_locale", "brand_color"]
        widgets = {"brand_color": forms.TextInput(attrs={"type": "color"})}

    def clean_logo_file(self):
        upload = self.cleaned_data["logo_file"]
        if upload is None:
            return None
        if upload.size > MAX_LOGO_BYTES:
            raise forms.ValidationError(
                f"The logo is {filesizeformat(upload.size)}; at most "
                f"{filesizeformat(MAX_LOGO_BYTES)} is allowed."
            )
        data = upload.read()
        if logo_content_type(data) is None:
            raise forms.ValidationError("The logo must be a PNG, JPEG or WebP image.")
        return data

    def save(self, commit=True):
        merchant = super().save(commit=False)
        data = self.cleaned_data.get("logo_file")
        if data:
            merchant.logo, merchant.logo_type = data, logo_content_type(data)
        elif self.cleaned_data.get("remove_logo"):
            merchant.logo, merchant.logo_type = b"", ""
        if commit:
            merchant.save()
        return merchant


@admin.register(Merchant)
class MerchantAdmin(SoftDeleteAdmin):
    merchant_path = "pk"
    store_path = "stores"
    store_path_is_many = True
    # Owners and managers edit their merchant's details; only operators add or trash one.
    staff_may_change = True
    form = MerchantForm
    list_display = ["name", "slug", "timezone", "default_locale", "brand_color", "is_live"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StoreInline]

    def get_queryset(self, request):
        # The list never shows the logo: leave its bytes in the database.
        return super().get_queryset(request).defer("logo")


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
