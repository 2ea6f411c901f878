"""One database transaction per mutating terminal request.

The idempotency claim, the input's validation, the lookups, the PIN check, the ledger write
and the recorded response all happen between one BEGIN and one COMMIT. A refusal (any 4xx)
commits too, with its recorded response and the PIN counters it changed: the services raise
their refusals before they write. A crash or an unexpected error rolls everything back, so
nothing is left behind, not even the claim. Lock contention reruns the whole transaction
(`run_in_transaction`).
"""

import functools
import re

from django.db import OperationalError
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer

from loyalty.api.errors import error_answer
from loyalty.errors import InvalidInput
from loyalty.services.contention import run_in_transaction
from loyalty.services.idempotency import (
    StoredResponse,
    claim_idempotency_key,
    record_response,
    request_digest,
)

_IDEMPOTENCY_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,255}")
_renderer = JSONRenderer()


def one_transaction(*, status: int = 201):
    """Decorate a viewset action that returns its answer's data: the action runs, and its
    answer is recorded under the request's Idempotency-Key, in one database transaction.
    The same key and request replay the first answer byte for byte."""

    def decorate(action):
        @functools.wraps(action)
        def respond(view, request, *args, **kwargs):
            key = _idempotency_key(request)
            digest = (
                request_digest(method=request.method, path=request.path, body=request.body)
                if key is not None
                else None
            )

            def attempt() -> tuple[int, str, dict]:
                claim = None
                if key is not None:
                    claim = claim_idempotency_key(
                        terminal_key=request.auth, key=key, request_digest=digest
                    )
                    if isinstance(claim, StoredResponse):
                        return claim.status, claim.body, {}
                answer = _answer(action, view, request, args, kwargs, status)
                if claim is not None:
                    record_response(claim=claim, status=answer[0], body=answer[1])
                return answer

            answer_status, body, headers = run_in_transaction(attempt)
            response = HttpResponse(body, status=answer_status, content_type="application/json")
            for name, value in headers.items():
                response[name] = value
            return response

        return respond

    return decorate


def _answer(action, view, request, args, kwargs, status) -> tuple[int, str, dict]:
    """The action's answer, or the answer to its refusal: (status, JSON body, headers)."""
    try:
        return status, _render(action(view, request, *args, **kwargs)), {}
    except OperationalError:
        # Contention aborts the transaction: it is rerun whole, never answered from inside.
        raise
    except Exception as exc:
        refusal = error_answer(exc)
        if refusal is None:
            raise
        return refusal.status, _render(refusal.body), refusal.headers


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY_SHAPE.fullmatch(key):
        raise InvalidInput(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            fields={"Idempotency-Key": ["invalid"]},
        )
    return key


def _render(data) -> str:
    return _renderer.render(data).decode()
