"""The client's IP address, as the admin login throttle (django-axes) and the per-IP rate
limits (django-ratelimit) count it.

Behind `TRUSTED_PROXY_COUNT` reverse proxies, each proxy appends the address it received the
request from to X-Forwarded-For, so the client is that many entries from the right; anything
further left was written by the client and can be forged. With no proxy configured the
header is ignored and the socket's address is the client.
"""

import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    # Every server sets REMOTE_ADDR; only requests Django builds itself (the test client's
    # logout) lack it.
    remote_addr = request.META.get("REMOTE_ADDR", "")
    proxy_count = settings.TRUSTED_PROXY_COUNT
    if not proxy_count:
        return remote_addr
    forwarded = [
        entry.strip()
        for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if entry.strip()
    ]
    if len(forwarded) < proxy_count:
        # The request did not come through every proxy: only the socket's address is known.
        return remote_addr
    candidate = forwarded[-proxy_count]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # A proxy passed on garbage; count it against the proxy rather than fail the request.
        return remote_addr
