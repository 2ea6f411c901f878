"""System checks of the loyalty app's own settings."""

from django.conf import settings
from django.core.checks import Error, register

PIN_SECRET_MIN_LENGTH = 32
GENERATE_HINT = "Generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"


@register()
def check_pin_secret(app_configs, **kwargs):
    # A short key makes every stored PIN digest cheap to reverse: 10^8 PINs at most.
    if settings.DEBUG:
        return []
    errors = []
    for name, secret in [
        ("PIN_SECRET", settings.PIN_SECRET),
        *(("PIN_SECRET_FALLBACKS", fallback) for fallback in settings.PIN_SECRET_FALLBACKS),
    ]:
        if len(secret) < PIN_SECRET_MIN_LENGTH:
            errors.append(
                Error(
                    f"{name} holds a secret shorter than {PIN_SECRET_MIN_LENGTH} characters.",
                    hint=GENERATE_HINT,
                    id="loyalty.E001",
                )
            )
    return errors
