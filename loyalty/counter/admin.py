"""Pairing a counter tablet from the admin: "Pair a tablet" on the terminal keys' list asks
for the store and a name, and shows a one-time code and its QR code. The terminal key is made
when the tablet redeems the code, so its clear text reaches that tablet alone."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode

from loyalty.qr import qr_svg
from loyalty.services import pairing
from merchants.access import scope_for
from merchants.models import Store


class PairingForm(forms.Form):
    store = forms.ModelChoiceField(
        queryset=Store.objects.select_related("merchant").order_by("merchant__name", "code"),
        help_text="The store whose counter the tablet works.",
    )
    name = forms.CharField(
        max_length=50,
        initial="Counter tablet",
        help_text="The terminal key's name, to tell the store's tablets apart.",
    )


class PairingAdminMixin:
    """For TerminalKeyAdmin: the "Pair a tablet" page (`<changelist>/pair/`)."""

    def get_urls(self):
        return [
            path(
                "pair/",
                self.admin_site.admin_view(self.pair_view),
                name="loyalty_terminalkey_pair",
            ),
            *super().get_urls(),
        ]

    def pair_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PairingForm(request.POST or None)
        # A merchant's staff pair tablets for their own merchant's (or store's) counters only.
        scope = scope_for(request.user)
        stores = form.fields["store"].queryset
        if not scope.is_operator:
            stores = stores.filter(merchant_id=scope.merchant_id)
            if scope.store_id is not None:
                stores = stores.filter(pk=scope.store_id)
        form.fields["store"].queryset = stores
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Pair a tablet",
            "form": form,
        }
        if request.method != "POST" or not form.is_valid():
            return TemplateResponse(request, "admin/loyalty/terminalkey/pair.html", context)
        pairing_code, code = pairing.create_pairing_code(
            store=form.cleaned_data["store"],
            terminal_name=form.cleaned_data["name"],
            created_by=request.user,
        )
        pair_url = request.build_absolute_uri(
            reverse("counter:pair") + "?" + urlencode({"code": code})
        )
        shown = pairing.display(code)
        # admin_view marks the page no-store: the code is a secret for ten minutes.
        return TemplateResponse(
            request,
            "admin/loyalty/terminalkey/pairing_code.html",
            {
                **context,
                "pairing": pairing_code,
                "code": shown,
                "pair_url": pair_url,
                "pair_page": request.build_absolute_uri(reverse("counter:pair")),
                "qr_svg": qr_svg(pair_url, f"QR code of pairing code {shown}"),
            },
        )
