"""System checks of the loyalty app's own settings: the PIN secret, Google Wallet."""

from django.conf import settings
from django.core.checks import Error, register

from loyalty.wallet import config as wallet_config

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


@register()
def check_google_wallet(app_configs, **kwargs):
    """With an issuer id set, the service account key must be usable: one error per problem
    (loyalty.E002-E006). Without one, the wallet is off and nothing is checked."""
    return [
        Error(problem.message, hint=problem.hint or None, id=problem.id)
        for problem in wallet_config.read_configuration().problems
    ]
