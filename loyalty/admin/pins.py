from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse

from loyalty.admin.operations import operation_page, report
from loyalty.errors import DomainError
from loyalty.models import StaffPin
from loyalty.services import pin_assignment, staff_pins
from merchants.access import scope_for
from merchants.models import AuditEntry, Store
from merchants.scoped_admin import MerchantScopedAdmin
from merchants.services import record_audit


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


class AssignPinsForm(forms.Form):
    store = forms.ModelChoiceField(queryset=Store.objects.none())
    pins = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        label="PINs",
        help_text="One per line: staff_name,pin,is_manager (yes/no), after a header line "
        "naming the columns. Or upload a CSV file of the same shape.",
    )
    file = forms.FileField(required=False, label="CSV file")

    def __init__(self, *args, stores, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None:
            try:
                cleaned["pins"] = upload.read(1_000_000).decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text.")
        if not (cleaned.get("pins") or "").strip() and not self.errors:
            self.add_error("pins", "Give the PINs, or upload a CSV file.")
        return cleaned


@admin.register(StaffPin)
class StaffPinAdmin(MerchantScopedAdmin):
    merchant_path = "store__merchant"
    store_path = "store"
    staff_may_add = True
    staff_may_change = True
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
        """Saved by the form's call to `set_staff_pin`; recorded here, where the operator
        is known."""
        record_audit(
            actor=request.user,
            action=AuditEntry.Action.PIN_SET,
            obj=obj,
            merchant_id=obj.store.merchant_id,
            changes={"is_manager": obj.is_manager, "reset": change},
        )

    def save_related(self, request, form, formsets, change):
        """A PIN has no related rows to save."""

    def get_urls(self):
        return [
            path(
                "assign/",
                self.admin_site.admin_view(self.assign_view),
                name="loyalty_staffpin_assign",
            ),
            *super().get_urls(),
        ]

    def may_assign(self, request) -> bool:
        return self.has_add_permission(request) and scope_for(request.user).may_operate

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_assign_pins": self.may_assign(request)}
        return super().changelist_view(request, extra_context)

    def assign_view(self, request):
        """Create or reset many PINs of one store from a form or an uploaded CSV."""
        if not self.may_assign(request):
            raise PermissionDenied
        stores = self.stores_for(request)
        form = AssignPinsForm(request.POST or None, request.FILES or None, stores=stores)
        changelist = reverse("admin:loyalty_staffpin_changelist")
        if request.method == "POST" and form.is_valid():
            try:
                entries = pin_assignment.parse_pin_csv(form.cleaned_data["pins"])
                outcome = pin_assignment.assign_pins(
                    store=form.cleaned_data["store"], entries=entries, user=request.user
                )
            except DomainError as exc:
                form.add_error(None, exc.detail)
            else:
                report(self, request, "PINs set", outcome)
                return HttpResponseRedirect(changelist)
        return operation_page(
            request,
            self,
            title="Assign PINs in bulk",
            form=form,
            submit_label="Set the PINs",
            cancel_url=changelist,
            intro="Each line creates the staff member's PIN at the store, or resets it (which "
            "also unlocks it). Lines that cannot be set are reported and skipped.",
        )

    def stores_for(self, request):
        """The live stores the user may set PINs for."""
        scope = scope_for(request.user)
        stores = Store.objects.select_related("merchant").order_by("merchant__name", "code")
        if scope.is_operator:
            return stores
        stores = stores.filter(merchant_id=scope.merchant_id)
        return stores.filter(pk=scope.store_id) if scope.store_id else stores
