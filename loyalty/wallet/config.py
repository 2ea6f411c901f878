"""The wallet's configuration: GOOGLE_WALLET_ISSUER_ID and GOOGLE_WALLET_SERVICE_ACCOUNT_FILE.

The wallet is off, and hidden, while the issuer id is empty. Once it is set, the service
account file must be a readable service-account JSON, readable by its owner only when DEBUG
is off: the system check (loyalty.checks) fails start-up otherwise, with one message per
problem. The key is loaded once per process; a rotated key takes effect on restart.
"""

import datetime
import functools
import json
import os
import stat
from dataclasses import dataclass

from django.conf import settings
from google.auth import crypt
from google.oauth2 import service_account

SCOPE = "https://www.googleapis.com/auth/wallet_object.issuer"
SERVICE_ACCOUNT_FIELDS = ("type", "client_email", "private_key", "token_uri")


@dataclass(frozen=True)
class Problem:
    id: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class WalletConfiguration:
    issuer_id: str
    service_account_file: str
    problems: tuple[Problem, ...] = ()
    service_account_email: str = ""
    key_id: str = ""
    key_file_modified_at: datetime.datetime | None = None

    @property
    def enabled(self) -> bool:
        """Wallet features are shown: an issuer id is set."""
        return bool(self.issuer_id)

    @property
    def configured(self) -> bool:
        return self.enabled and not self.problems

    @property
    def reason(self) -> str:
        """Why the wallet does not work, in one sentence; empty when it does."""
        if not self.enabled:
            return "GOOGLE_WALLET_ISSUER_ID is not set: Google Wallet is off."
        return " ".join(problem.message for problem in self.problems)


def is_enabled() -> bool:
    return bool(settings.GOOGLE_WALLET_ISSUER_ID)


def read_configuration() -> WalletConfiguration:
    """The settings, with every problem of the service account file (read from disk now)."""
    issuer_id = settings.GOOGLE_WALLET_ISSUER_ID
    path = settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE
    if not issuer_id:
        return WalletConfiguration(issuer_id="", service_account_file=path)
    problems = []
    if not issuer_id.isdigit():
        problems.append(
            Problem(
                "loyalty.E006",
                f"GOOGLE_WALLET_ISSUER_ID must be the issuer's number, not {issuer_id!r}.",
                "Copy it from the Google Pay & Wallet Console (Google Wallet API, Issuer ID).",
            )
        )
    if not path:
        problems.append(
            Problem(
                "loyalty.E002",
                "GOOGLE_WALLET_ISSUER_ID is set but GOOGLE_WALLET_SERVICE_ACCOUNT_FILE is not.",
                "Set it to the path of the service account's JSON key, or unset the issuer "
                "id to turn Google Wallet off.",
            )
        )
        return WalletConfiguration(issuer_id, path, tuple(problems))
    try:
        info = _read_json(path)
    except FileNotFoundError:
        problems.append(
            Problem(
                "loyalty.E002",
                f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {path} does not exist.",
                "Check the path, and that the file is mounted into this container.",
            )
        )
        return WalletConfiguration(issuer_id, path, tuple(problems))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(
            Problem(
                "loyalty.E003",
                f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {path} cannot be read: "
                f"{getattr(exc, 'strerror', None) or exc}.",
                "Make the file readable by the user the processes run as.",
            )
        )
        return WalletConfiguration(issuer_id, path, tuple(problems))
    except ValueError:
        info = None
    missing = _not_a_service_account(info)
    if missing:
        problems.append(
            Problem(
                "loyalty.E004",
                f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {path} is not a service-account JSON key "
                f"({missing}).",
                "Download a JSON key of the service account (IAM, Service accounts, Keys, "
                "Add key, JSON).",
            )
        )
        return WalletConfiguration(issuer_id, path, tuple(problems))
    mode = os.stat(path).st_mode
    if not settings.DEBUG and mode & (stat.S_IRGRP | stat.S_IROTH):
        problems.append(
            Problem(
                "loyalty.E005",
                f"GOOGLE_WALLET_SERVICE_ACCOUNT_FILE {path} is readable by group or others "
                f"(mode {stat.filemode(mode)}); it holds a private key.",
                f"chmod 600 {path}",
            )
        )
    return WalletConfiguration(
        issuer_id,
        path,
        tuple(problems),
        service_account_email=info["client_email"],
        key_id=info.get("private_key_id", ""),
        key_file_modified_at=datetime.datetime.fromtimestamp(
            os.stat(path).st_mtime, tz=datetime.UTC
        ),
    )


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _not_a_service_account(info) -> str:
    """What makes `info` no service-account key; empty when it is one."""
    if not isinstance(info, dict):
        return "not a JSON object"
    if info.get("type") != "service_account":
        return f'"type" is {info.get("type")!r}, not "service_account"'
    missing = [name for name in SERVICE_ACCOUNT_FIELDS if not info.get(name)]
    if missing:
        return "missing " + ", ".join(missing)
    try:
        crypt.RSASigner.from_service_account_info(info)
    except (ValueError, TypeError):
        return "its private_key is not a PEM RSA key"
    return ""


@functools.cache
def credentials(path: str) -> service_account.Credentials:
    """The service account's credentials with the wallet scope, read once per process."""
    return service_account.Credentials.from_service_account_file(path, scopes=[SCOPE])


@functools.cache
def signer(path: str) -> crypt.RSASigner:
    """The service account's key, for signing save links; read once per process."""
    return crypt.RSASigner.from_service_account_file(path)
