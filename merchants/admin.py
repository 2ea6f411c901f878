from django import forms
from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from merchants.models import MAX_LOGO_BYTES, Merchant, StaffMembership, Store, logo_content_type
from merchants.softdelete_admin import SoftDeleteAdmin


class StoreInline(admin.TabularInline):
    model = Store
    extra = 0
    fields = ["code", "name"]


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
