"""Per-terminal-key rate limits: a count per key, scope and fixed window in the cache.

The caps are `settings.TERMINAL_RATE_LIMITS` ("60/m": 60 per minute; "100/5m": 100 per five
minutes; units s, m, h, d); `RATELIMIT_ENABLE=false` turns them off. The cache must be
shared by every web process (Redis in production) for a cap to hold across processes. A
cache count is a throttle, not a guarantee: it is fine for it to be a little inexact at a
window's edge.
"""

import re
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from loyalty.errors import RateLimited

_RATE = re.compile(r"(\d+)/(\d*)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """(count, period in seconds) of a rate such as "60/m"."""
    match = _RATE.fullmatch(rate)
    if match is None:
        raise ValueError(f"Not a rate: {rate!r}")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * _SECONDS[unit]


def check_rate_limit(request, scope: str) -> None:
    """Count this request against the terminal key's cap for `scope`; RateLimited past it."""
    if not settings.RATELIMIT_ENABLE:
        return
    limit, period = parse_rate(settings.TERMINAL_RATE_LIMITS[scope])
    now = int(time.time())
    window_end = now - now % period + period
    count = _count(f"terminal-rate:{scope}:{request.auth.prefix}:{window_end}", period)
    if count > limit:
        raise RateLimited(retry_after=max(1, window_end - now))


def _count(key: str, period: int) -> int:
    """The key's count after adding this request; the count expires after its window."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        # One round trip (INCR creates the count at 1) where the portable add-or-incr below
        # takes two or three on Redis; this runs on every terminal call. The count is a
        # plain integer, as the cache itself stores integers, so it reads the same.
        key = cache.make_and_validate_key(key)
        pipeline = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, period + 1)
        return pipeline.execute()[0]
    if cache.add(key, 1, period + 1):
        return 1
    try:
        return cache.incr(key)
    except ValueError:
        # Expired between the two calls: a new window.
        cache.add(key, 1, period + 1)
        return 1
