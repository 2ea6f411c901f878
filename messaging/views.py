"""The one page of messaging: one-click unsubscribe from marketing email, no login.

GET shows a confirmation with a button; POST withdraws the consent. Mail clients send the
RFC 8058 one-click POST themselves (`List-Unsubscribe-Post`), without a CSRF token: the
signed link is the authority. A GET never unsubscribes, so a link scanner cannot."""

from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messaging.services.consent import customer_from_unsubscribe_token, withdraw_marketing_consent


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    customer = customer_from_unsubscribe_token(token)
    if customer is None:
        raise Http404("Unknown unsubscribe link.")
    if request.method == "POST":
        withdraw_marketing_consent(customer=customer)
    with translation.override(customer.locale):
        return render(
            request,
            "messaging/unsubscribe.html",
            {
                "merchant_name": customer.merchant.name,
                "done": request.method == "POST",
                "lang": customer.locale,
            },
        )
