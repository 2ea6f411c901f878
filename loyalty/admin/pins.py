from django import forms
from django.contrib import admin

from loyalty.errors import DomainError
from loyalty.models import StaffPin
from loyalty.services import staff_pins
from merchants.models import Store


class StaffPinForm(forms.ModelForm):
    """Adding or resetting a PIN: asked twice, stored by `set_staff_pin` (its digest, its
    rules on shape and clashes), never saved from the form itself."""

    pin = forms.CharField(
        label="PIN",
        widget=forms.PasswordInput(render_value=False),
        help_text="4 to 8 digits.",
        strip=False,
    )
    pin_again = forms.CharField(
        label="PIN again", widget=forms.PasswordInput(render_value=False), strip=False
    )

    class Meta:
        model = StaffPin
        fields = ["store", "staff_name", "is_manager"]

    def clean(self):
        cleaned = super().clean()
        pin, again = cleaned.get("pin"), cleaned.get("pin_again")
        if pin and again and pin != again:
            self.add_error("pin_again", "The two PINs differ.")
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            # The service runs last in validation so that its refusals (shape, a PIN
            # another staff member has) show as form errors; the admin's view is one
            # transaction, so nothing stays written if a later step fails.
            self.staff_pin = self._set_pin(self.cleaned_data)

    def _set_pin(self, cleaned) -> StaffPin | None:
        instance = self.instance
        try:
            return staff_pins.set_staff_pin(
                store=cleaned.get("store") or Store.all_objects.get(pk=instance.store_id),
                staff_name=cleaned.get("staff_name") or instance.staff_name,
                pin=cleaned["pin"],
                is_manager=cleaned.get("is_manager", False),
            )
        except DomainError as exc:
            field = next(iter(exc.fields or {}), None)
            self.add_error(field if field in self.fields else None, exc.detail)
            return None


@admin.register(StaffPin)
class StaffPinAdmin(admin.ModelAdmin):
    form = StaffPinForm
    list_display = [
        "staff_name",
        "store",
        "is_manager",
        "is_active",
        "failed_attempts",
        "locked_until",
    ]
    list_filter = ["is_manager", "is_active"]
    list_select_related = ["store__merchant"]
    search_fields = ["staff_name", "store__code", "store__merchant__name"]
    autocomplete_fields = ["store"]
    readonly_fields = ["is_active", "failed_attempts", "locked_until"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Resetting keeps who and where: a new name or store is a new PIN.
        return ["store", "staff_name", *self.readonly_fields]

    def save_form(self, request, form, change):
        return form.staff_pin

    def save_model(self, request, obj, form, change):
        """Saved by the form's call to `set_staff_pin`."""

    def save_related(self, request, form, formsets, change):
        """A PIN has no related rows to save."""
