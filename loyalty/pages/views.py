"""The customer pages. Thin: look up, validate with a form, call a service, render.

Enrolment goes through the same `enroll_customer` as the terminal API; the emails these pages
cause are queued through the outbox like every other.
"""

import datetime
import hashlib
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.flatpages.models import FlatPage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import get_usage

from loyalty import card_links, card_numbers, metrics
from loyalty.errors import AlreadyEnrolled, InvalidInput
from loyalty.models import Card, Program, Reward, TransactionType
from loyalty.pages.forms import EnrollmentForm, LostLinkForm
from loyalty.pages.language import page_view, use_customer_language
from loyalty.qr import qr_svg
from loyalty.services import ledger
from loyalty.services.card_link_emails import send_link_to_enrolled_customer, send_lost_card_links
from merchants.branding import brand_colors
from merchants.models import Merchant, Store

# The session remembers the card just made, for the success page alone.
ENROLLED_CARD_SESSION_KEY = "pages:enrolled_card"
RECENT_TRANSACTIONS = 10

ACTIVITY = {
    TransactionType.POINTS_EARNED: pgettext_lazy("activity", "Points earned"),
    TransactionType.POINTS_REDEEMED: pgettext_lazy("activity", "Points spent on a reward"),
    TransactionType.POINTS_VOIDED: pgettext_lazy("activity", "Points cancelled"),
    TransactionType.POINTS_EXPIRED: pgettext_lazy("activity", "Points expired"),
    TransactionType.POINTS_ADJUSTED: pgettext_lazy("activity", "Points corrected"),
    TransactionType.WELCOME_BONUS: pgettext_lazy("activity", "Welcome bonus"),
    TransactionType.STAMP_EARNED: pgettext_lazy("activity", "Stamp earned"),
    TransactionType.STAMP_REDEEMED: pgettext_lazy("activity", "Stamps spent on the reward"),
    TransactionType.STAMP_VOIDED: pgettext_lazy("activity", "Stamp cancelled"),
}


@page_view
@require_GET
def landing(request):
    return render(request, "pages/landing.html")


@page_view
@require_http_methods(["GET", "POST"])
def enroll(request, slug: str):
    merchant, program, store = _enrolment_target(slug, request.GET.get("store"))
    context = {**_merchant_context(merchant), "program": program, "terms": _terms(program)}
    if request.method == "POST":
        metrics.count_enrolment_step(merchant, "submission")
        usage = _count(request, "enroll")
        if usage["should_limit"]:
            return _too_many_requests(request, usage, context)
        form = EnrollmentForm(request.POST)
        if form.is_valid():
            try:
                card = ledger.enroll_customer(
                    program=program, store=store, **form.service_arguments()
                )
            except AlreadyEnrolled:
                email = form.cleaned_data["email"]
                # Beyond the address's cap the answer is the same, and no email goes out.
                if not _count(request, "link_email", key=email.lower())["should_limit"]:
                    send_link_to_enrolled_customer(program=program, store=store, email=email)
                return render(request, "pages/already_enrolled.html", {**context, "email": email})
            except InvalidInput as error:
                # The form checks what the service checks; this is the net under it.
                for field in error.fields or {None: None}:
                    form.add_error(
                        field if field in form.fields else None, _("Check this information.")
                    )
            else:
                metrics.count_enrolment_success(merchant)
                request.session[ENROLLED_CARD_SESSION_KEY] = card.pk
                return redirect("pages:enrolled", slug=merchant.slug, lang=card.customer.locale)
    else:
        metrics.count_enrolment_step(merchant, "page_view")
        form = EnrollmentForm(initial={"locale": translation.get_language()})
    return render(request, "pages/enroll.html", {**context, "form": form})


# The enrolment page's script calls it once, when the visitor first focuses a field. It only
# moves a counter, so it needs no CSRF token (a beacon cannot send one); an unknown merchant
# is a 404 and counts nothing, so the counter's labels stay the merchants' slugs.
@csrf_exempt
@require_POST
def enroll_started(request, slug: str):
    merchant = get_object_or_404(Merchant.objects.only("slug"), slug=slug)
    metrics.count_enrolment_step(merchant, "form_start")
    return HttpResponse(status=204)


@page_view
@never_cache
@require_GET
def enrolled(request, slug: str):
    card_id = request.session.get(ENROLLED_CARD_SESSION_KEY)
    card = (
        _cards().filter(pk=card_id, program__merchant__slug=slug).first()
        if card_id is not None
        else None
    )
    if card is None:
        # A bookmark of the success page, or another browser: start again at the form.
        return redirect("pages:enroll", slug=slug, lang=translation.get_language())
    use_customer_language(request, card.customer.locale)
    bonus = (
        card.transactions.filter(type=TransactionType.WELCOME_BONUS)
        .values_list("points_delta", flat=True)
        .first()
    )
    return render(
        request,
        "pages/enrolled.html",
        {
            **_card_context(card),
            "welcome_bonus_points": bonus,
            "card_path": card_links.card_path(card.link_key),
        },
    )


@page_view
@never_cache
@require_GET
def card(request, token: str):
    card = card_links.card_from_token(token)
    if card is None:
        raise Http404("Unknown or expired card link.")
    use_customer_language(request, card.customer.locale)
    program = card.program
    zone = ZoneInfo(program.merchant.timezone)
    entries = [
        {
            "when": entry.created_at.astimezone(zone),
            "what": ACTIVITY.get(entry.type, entry.get_type_display()),
            "points": entry.points_delta,
            "stamps": entry.stamps_delta,
        }
        for entry in card.transactions.order_by("-id")[:RECENT_TRANSACTIONS]
    ]
    expires_at = _points_expiry(card, timezone.now())
    response = render(
        request,
        "pages/card.html",
        {
            **_card_context(card),
            "entries": entries,
            "expires_on": expires_at.astimezone(zone).date() if expires_at else None,
            "rewards": Reward.objects.filter(program=program, is_active=True)
            if program.has_points
            else [],
        },
    )
    response["X-Robots-Tag"] = "noindex"
    return response


@page_view
@require_http_methods(["GET", "POST"])
def lost_card(request):
    if request.method == "POST":
        usage = _count(request, "lost_link")
        if usage["should_limit"]:
            return _too_many_requests(request, usage, {})
        form = LostLinkForm(request.POST)
        if form.is_valid():
            email = form.cleaned_data["email"]
            # The same answer for a known address, an unknown one, and one over its cap.
            if not _count(request, "link_email", key=email.lower())["should_limit"]:
                send_lost_card_links(email=email)
            return redirect(
                reverse("pages:lost_card", kwargs={"lang": translation.get_language()}) + "?sent=1"
            )
    else:
        form = LostLinkForm()
    return render(request, "pages/lost_card.html", {"form": form, "sent": "sent" in request.GET})


@require_GET
def merchant_logo(request, slug: str):
    logo = (
        Merchant.objects.filter(slug=slug)
        .exclude(logo_type="")
        .values_list("logo", "logo_type")
        .first()
    )
    if logo is None:
        raise Http404("No logo.")
    data, content_type = bytes(logo[0]), logo[1]
    etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        data, content_type=content_type
    )
    response["ETag"] = etag
    # An hour: a new logo shows within the hour without a new address for it.
    response["Cache-Control"] = "public, max-age=3600"
    return response


def not_found(request, exception):
    """The friendly 404 (settings' handler404), in the URL's language or the browser's."""
    prefix = request.path_info.split("/")[1]
    language = prefix if prefix in dict(settings.LANGUAGES) else None
    with translation.override(language or translation.get_language_from_request(request)):
        return render(request, "404.html", status=404)


def _count(request, scope: str, key="ip") -> dict:
    """Count this request against the page's cap for `scope` (per client IP unless a key is
    given); `should_limit` is true past the cap."""
    usage = get_usage(
        request,
        group=f"pages:{scope}",
        key=key if key == "ip" else (lambda group, request: key),
        rate=settings.PAGE_RATE_LIMITS[scope],
        increment=True,
    )
    return usage or {"should_limit": False}


def _too_many_requests(request, usage: dict, context: dict) -> HttpResponse:
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(max(1, usage["time_left"]))
    return response


def _enrolment_target(slug: str, store_code: str | None) -> tuple[Merchant, Program, Store]:
    """The live merchant, its live programme and the enrolling store: the one named by
    `?store=`, else the merchant's first store."""
    merchant = get_object_or_404(Merchant.objects.defer("logo"), slug=slug)
    program = Program.objects.filter(merchant=merchant).first()
    stores = Store.objects.filter(merchant=merchant).order_by("pk")
    store = stores.filter(code=store_code).first() if store_code else stores.first()
    if program is None or store is None:
        raise Http404("No programme or store to enrol in.")
    program.merchant = merchant
    return merchant, program, store


def _terms(program: Program) -> dict:
    """The programme's terms: its flat page (`/<terms_page>/`) when set, else its text."""
    if program.terms_page:
        page = FlatPage.objects.filter(
            url=f"/{program.terms_page}/", sites=settings.SITE_ID
        ).first()
        if page is not None:
            # Flat pages are HTML written by operators in the admin, trusted as such.
            return {"title": page.title, "html": mark_safe(page.content)}
    return {"title": "", "text": program.terms_text}


def _merchant_context(merchant: Merchant) -> dict:
    return {"merchant": merchant, "brand": brand_colors(merchant.brand_color)}


def _cards():
    return Card.objects.select_related("program__merchant", "customer").defer(
        "program__merchant__logo"
    )


def _card_context(card: Card) -> dict:
    number = card_numbers.display(card.number)
    return {
        **_merchant_context(card.program.merchant),
        "card": card,
        "program": card.program,
        "card_number": number,
        "qr_svg": qr_svg(card.number, _("QR code of card %(number)s") % {"number": number}),
    }


def _points_expiry(card: Card, now: datetime.datetime) -> datetime.datetime | None:
    """When the card's points expire, if that falls within the programme's warning window."""
    program = card.program
    if (
        not program.has_points
        or program.points_expiration_days is None
        or card.points_balance <= 0
        or card.last_activity_at is None
    ):
        return None
    expires_at = card.last_activity_at + datetime.timedelta(days=program.points_expiration_days)
    if expires_at - datetime.timedelta(days=program.expiration_warning_days) > now:
        return None
    return expires_at
