"""The counter's pages. Thin: the card screen is static HTML and a script that calls the
terminal API with the tablet's key; pairing redeems a one-time code through its service."""

import json

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.core import get_usage

from loyalty.counter.messages import counter_texts
from loyalty.errors import DomainError, RateLimited
from loyalty.pages.language import page_view
from loyalty.services.pairing import redeem_pairing_code


@page_view
@require_GET
def counter(request):
    return render(request, "counter/counter.html", {"counter_texts": counter_texts()})


@page_view
@never_cache
@require_http_methods(["GET", "POST"])
def pair(request):
    if request.method == "GET":
        return render(
            request,
            "counter/pair.html",
            {"counter_texts": counter_texts(), "code": request.GET.get("code", "")[:20]},
        )
    return _redeem(request)


def _redeem(request) -> JsonResponse:
    """POST {"code": "ABCD-EFGH"}: 201 with the new terminal key, shown this once."""
    try:
        usage = get_usage(
            request,
            group="counter:pair",
            key="ip",
            rate=settings.PAGE_RATE_LIMITS["pair"],
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            raise RateLimited(retry_after=max(1, usage["time_left"]))
        try:
            code = json.loads(request.body).get("code")
        except (ValueError, AttributeError):
            code = None
        terminal_key, key = redeem_pairing_code(code=code if isinstance(code, str) else "")
    except DomainError as error:
        response = JsonResponse({"code": error.code, "detail": error.detail}, status=error.status)
        if isinstance(error, RateLimited):
            response["Retry-After"] = str(error.retry_after)
        return response
    store = terminal_key.store
    return JsonResponse(
        {
            "key": key,
            "name": terminal_key.name,
            "store": store.code,
            "store_name": store.name,
            "merchant": store.merchant.name,
        },
        status=201,
    )
