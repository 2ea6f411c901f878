"""Per-terminal-key rate limits (django-ratelimit, fixed one-minute windows in the cache).

The caps are `settings.TERMINAL_RATE_LIMITS`; `RATELIMIT_ENABLE=false` turns them off. The
cache must be shared by every web process (Redis in production) for a cap to hold across
processes. A cache count is a throttle, not a guarantee: it is fine for it to be a little
inexact at a window's edge.
"""

from django.conf import settings
from django_ratelimit.core import get_usage

from loyalty import metrics
from loyalty.errors import RateLimited


def _terminal_key(group, request) -> str:
    return request.auth.prefix


def check_rate_limit(request, scope: str) -> None:
    """Count this request against the terminal key's cap for `scope`; RateLimited past it."""
    usage = get_usage(
        request,
        group=f"terminal:{scope}",
        key=_terminal_key,
        rate=settings.TERMINAL_RATE_LIMITS[scope],
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        metrics.count_rate_limited(request.auth.store)
        raise RateLimited(retry_after=max(1, usage["time_left"]))
