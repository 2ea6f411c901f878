"""The page django-axes answers with once a username and address are locked out."""

from django.conf import settings
from django.shortcuts import render


def locked_out(request, original_response, credentials):
    return render(
        request,
        "admin/locked_out.html",
        {"cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)},
        status=429,
    )
