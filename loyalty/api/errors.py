"""One JSON shape for every error: `code`, `detail`, and `fields` for invalid input."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from loyalty.errors import Busy, DomainError, RetryLater
from loyalty.services.contention import is_contention

VALIDATION_DETAIL = "The input is not valid."


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    body: dict
    headers: dict[str, str]


def error_answer(exc: Exception) -> ErrorAnswer | None:
    """The answer to an error, or None for an unexpected exception (a server error)."""
    headers = {}
    if isinstance(exc, OperationalError) and is_contention(exc):
        # A lock wait that timed out outside the retried ledger transaction: the same answer
        # as contention that outlasted its retries.
        exc = Busy()
    if isinstance(exc, DomainError):
        status, code, detail, fields = exc.status, exc.code, exc.detail, exc.fields
        if isinstance(exc, RetryLater):
            headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, Http404):
        status, code, detail, fields = 404, "not_found", "Not found.", None
    elif isinstance(exc, RequestDataTooBig):
        status, code, detail, fields = 413, "too_large", "The request body is too large.", None
    elif isinstance(exc, PermissionDenied):
        status, code, detail, fields = 403, "permission_denied", "Permission denied.", None
    elif isinstance(exc, exceptions.ValidationError):
        status, code, detail = 400, "invalid", VALIDATION_DETAIL
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
    elif isinstance(exc, exceptions.APIException):
        status, code, detail, fields = exc.status_code, exc.default_code, str(exc.detail), None
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
    else:
        return None
    body = {"code": code, "detail": str(detail)}
    if fields:
        body["fields"] = fields
    return ErrorAnswer(status=status, body=body, headers=headers)


def exception_handler(exc, context):
    answer = error_answer(exc)
    if answer is None:
        return None
    set_rollback()
    return Response(answer.body, status=answer.status, headers=answer.headers)
