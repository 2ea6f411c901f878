from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.analytics.periods import Period, period_for
from merchants.access import MerchantAccess
from merchants.errors import DomainError
from merchants.models import Store


class PeriodForm(forms.Form):
    """The analytics page's range and store; empty dates take the API's defaults."""

    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    store = forms.ModelChoiceField(
        label=_("Store"),
        queryset=Store.objects.none(),
        to_field_name="code",
        required=False,
        empty_label=_("All stores"),
    )

    def __init__(self, *args, access: MerchantAccess, **kwargs):
        super().__init__(*args, **kwargs)
        self.access = access
        stores = Store.objects.filter(merchant=access.merchant)
        if access.store is not None:
            stores = stores.filter(pk=access.store.pk)
            self.fields["store"].empty_label = None
        self.fields["store"].queryset = stores

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        store = cleaned.get("store")
        try:
            cleaned["period"] = period_for(
                access=self.access,
                date_from=cleaned.get("date_from"),
                date_to=cleaned.get("date_to"),
                store_code=store.code if store else None,
            )
        except DomainError as error:
            for field, messages in (error.fields or {"__all__": [error.detail]}).items():
                for message in messages:
                    self.add_error(field if field in self.fields else None, message)
        return cleaned

    def period(self) -> Period:
        """The period asked for when the form is valid, the default one otherwise."""
        if self.is_valid():
            return self.cleaned_data["period"]
        return period_for(access=self.access, date_from=None, date_to=None, store_code=None)
