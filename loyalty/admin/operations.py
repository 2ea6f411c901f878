"""Shared pieces of the admin's operations: their forms' page and how they report."""

from django.contrib import messages
from django.template.response import TemplateResponse

from loyalty.services.card_operations import BulkOutcome


def operation_page(request, model_admin, *, title, form, submit_label, cancel_url, **context):
    """The intermediate page of an operation (templates/admin/loyalty/operation_form.html).
    An action's page posts its selection back: the ids, or "all that match the filters"
    (Django's select_across) when that is what was chosen."""
    context.setdefault("target_count", len(context.get("targets", ())))
    context["select_across"] = request.POST.get("select_across") == "1"
    return TemplateResponse(
        request,
        "admin/loyalty/operation_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": title,
            "form": form,
            "submit_label": submit_label,
            "cancel_url": cancel_url,
            **context,
        },
    )


def report(model_admin, request, what: str, outcome: BulkOutcome) -> None:
    """'<what>: n changed, m skipped (number: why; ...).' as one admin message."""
    level = messages.SUCCESS if not outcome.skipped else messages.WARNING
    model_admin.message_user(request, f"{what}: {outcome.summary()}", level)
