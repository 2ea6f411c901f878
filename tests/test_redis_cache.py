"""The Redis cache backend that the rate limiter counts in, against a real Redis."""

import uuid

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import RequestFactory
from django_ratelimit.core import get_usage

from config.cache import ReusedClientRedisCache
from tests.redis_support import REDIS_URL, redis_answers

pytestmark = pytest.mark.skipif(not redis_answers(), reason=f"needs Redis at {REDIS_URL}")


@pytest.fixture
def cache():
    cache = ReusedClientRedisCache(REDIS_URL, {"KEY_PREFIX": f"test-{uuid.uuid4()}"})
    yield cache
    # Not clear(): that empties the whole Redis database, which other tests may use.
    client = cache._cache.get_client()
    for key in client.scan_iter(f"{cache.key_prefix}:*"):
        client.delete(key)


def test_incr_counts_an_existing_key_in_one_command(cache):
    cache.set("count", 5, timeout=60)
    assert cache.incr("count") == 6
    assert cache.incr("count", 10) == 16
    assert cache.get("count") == 16


def test_incr_of_a_missing_key_is_a_value_error_and_creates_nothing(cache):
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")
    assert cache.get("missing") is None
    # The same as Django's own backend.
    django_cache = RedisCache(REDIS_URL, {"KEY_PREFIX": cache.key_prefix})
    with pytest.raises(ValueError):
        django_cache.incr("missing")


def test_incr_keeps_the_keys_expiry(cache):
    cache.set("count", 1, timeout=60)
    cache.incr("count")
    ttl = cache._cache.get_client().ttl(cache.make_key("count"))
    assert 0 < ttl <= 60


def test_one_client_serves_every_call(cache):
    client = cache._cache.get_client()
    cache.set("a", 1)
    cache.get("a")
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client


def test_django_ratelimit_counts_through_it(cache, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ReusedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": cache.key_prefix,
        }
    }
    from django.core.cache import caches

    assert caches["default"].get("anything") is None
    request = RequestFactory().post("/")
    usages = [
        get_usage(request, group="test", key=lambda group, request: "k", rate="3/m", increment=True)
        for _ in range(4)
    ]
    assert [usage["count"] for usage in usages] == [1, 2, 3, 4]
    assert [usage["should_limit"] for usage in usages] == [False, False, False, True]
