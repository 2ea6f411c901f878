"""The rate limits count in Django's Redis cache, shared by every web process, against a real
Redis."""

import uuid

import pytest
from django.core.cache import caches
from django.test import RequestFactory
from django_ratelimit.core import get_usage

from tests.redis_support import REDIS_URL, redis_answers

pytestmark = pytest.mark.skipif(not redis_answers(), reason=f"needs Redis at {REDIS_URL}")


@pytest.fixture
def redis_cache(settings):
    prefix = f"test-{uuid.uuid4()}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    yield caches["default"]
    # Not clear(): that empties the whole Redis database, which other tests may use.
    client = caches["default"]._cache.get_client()
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_django_ratelimit_counts_in_redis_across_processes(redis_cache, settings):
    request = RequestFactory().post("/")

    def usage():
        return get_usage(
            request, group="test", key=lambda group, request: "k", rate="3/m", increment=True
        )

    first = [usage() for _ in range(2)]
    # Another process: its own cache connection, the same counts.
    caches.close_all()
    del caches["default"]
    later = [usage() for _ in range(2)]
    assert [u["count"] for u in first + later] == [1, 2, 3, 4]
    assert [u["should_limit"] for u in first + later] == [False, False, False, True]
