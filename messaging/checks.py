"""System checks of the messaging settings."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_webhook_secret(app_configs, **kwargs):
    # Without it anymail accepts any request on the tracking webhooks: anyone could mark
    # emails delivered, or suppress an address with a fake complaint.
    if settings.DEBUG or not settings.EMAIL_BACKEND.startswith("anymail."):
        return []
    if settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return []
    return [
        Error(
            "An anymail email backend is configured without ANYMAIL_WEBHOOK_SECRET.",
            hint="Set ANYMAIL_WEBHOOK_SECRET=user:password and give the ESP the webhook URL "
            "with those credentials (see README, Email).",
            id="messaging.E001",
        )
    ]
