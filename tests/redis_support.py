import os
import socket
from urllib.parse import urlparse

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/4")


def redis_answers() -> bool:
    url = urlparse(REDIS_URL)
    try:
        with socket.create_connection((url.hostname, url.port or 6379), timeout=1):
            return True
    except OSError:
        return False
