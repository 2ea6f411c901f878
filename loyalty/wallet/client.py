"""The Google Wallet REST API, through google-auth's AuthorizedSession (service-account
credentials with the wallet scope; the session fetches and renews its access token).

Each request is retried with exponential backoff: after 1 s, 4 s and 16 s, on a server error
(5xx) or a network failure; a 429 waits its Retry-After instead (up to MAX_RETRY_AFTER
seconds; longer, the pass is left for the next sync). Any other 4xx is final: the request is
wrong, and sending it again would not change the answer. A 409 on insert is no error: the
resource exists, and it is patched instead.
"""

import datetime
import email.utils
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.conf import settings
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import AuthorizedSession

from loyalty.wallet import config

BACKOFF_SECONDS = (1, 4, 16)
MAX_RETRY_AFTER = 60
TIMEOUT_SECONDS = 10
ERROR_EXCERPT = 500


class WalletApiError(Exception):
    """A request that failed for good (after its retries, or at once for most 4xx)."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class WalletClient:
    session: requests.Session
    base_url: str
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_settings(cls, *, sleep: Callable[[float], None] = time.sleep) -> "WalletClient":
        return cls(
            session=_session(settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE),
            base_url=settings.GOOGLE_WALLET_API_URL.rstrip("/"),
            sleep=sleep,
        )

    def upsert(self, kind: str, resource: dict, *, exists: bool) -> None:
        """Create the resource (`loyaltyClass` or `loyaltyObject`), or patch it when it
        exists: known to, or answered 409 on insert."""
        if not exists:
            response = self._send("POST", f"{self.base_url}/{kind}", resource)
            if response.status_code != 409:
                return
        self._send("PATCH", f"{self.base_url}/{kind}/{resource['id']}", resource)

    def _send(self, method: str, url: str, body: dict) -> requests.Response:
        delays = iter(BACKOFF_SECONDS)
        while True:
            retry_after = None
            try:
                response = self.session.request(method, url, json=body, timeout=TIMEOUT_SECONDS)
            except auth_exceptions.RefreshError as exc:
                raise WalletApiError(f"The access token was refused: {exc}") from exc
            except (requests.RequestException, auth_exceptions.TransportError) as exc:
                failure, status = f"{method} {url}: {exc}", None
            else:
                status = response.status_code
                if status < 400 or status == 409:
                    return response
                failure = f"{method} {url} answered {status}: {_excerpt(response)}"
                if status == 429:
                    retry_after = _retry_after(response)
                    if retry_after is not None and retry_after > MAX_RETRY_AFTER:
                        raise WalletApiError(
                            f"{failure} (Retry-After {retry_after:g} s: left for the next sync)",
                            status=status,
                        )
                elif status < 500:
                    raise WalletApiError(failure, status=status)
            delay = next(delays, None)
            if delay is None:
                raise WalletApiError(
                    f"{failure} (after {len(BACKOFF_SECONDS)} retries)", status=status
                )
            wait = delay if retry_after is None else retry_after
            self.sleep(wait)


@functools.cache
def _session(path: str) -> AuthorizedSession:
    """One session per process and key file: its connections and access token are reused."""
    return AuthorizedSession(config.credentials(path))


def _excerpt(response: requests.Response) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text
    return message[:ERROR_EXCERPT]


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds: a number of seconds or an HTTP date; None when absent."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.datetime.now(datetime.UTC)).total_seconds())
