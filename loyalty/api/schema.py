"""OpenAPI descriptions of the terminal endpoints (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from loyalty.api.serializers import (
    AdjustInput,
    CardOutput,
    EarnInput,
    EnrollmentInput,
    EnrollmentOutput,
    ErrorOutput,
    LedgerOperationOutput,
    ProgramOutput,
    RedeemInput,
    StaffInput,
    StaffPinOutput,
    StampsInput,
    TerminalOutput,
    TerminalUnlockInput,
    TransactionPageOutput,
    VoidInput,
)

TAG = "Loyalty - Store"


class TerminalKeyScheme(OpenApiAuthenticationExtension):
    target_class = "loyalty.api.authentication.TerminalKeyAuthentication"
    name = "TerminalKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: the terminal's key; it fixes store and merchant.",
        }


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=description)


_retry = _error


def _retry_after(statuses: list[int]) -> OpenApiParameter:
    return OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        description="Seconds to wait before retrying.",
        response=statuses,
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Optional, up to 255 printable ASCII characters, kept 24 hours per terminal "
    "key: a retry with the same key and body replays the first response; the same key with "
    "another body is 422 `idempotency_key_reused`; while the first request runs, 409 "
    "`idempotency_key_in_progress`. Responses 409, 429 and 503 are not kept.",
)

ERRORS = {
    400: _error("`invalid` (with `fields`), `parse_error`: the input is not valid."),
    401: _error("`not_authenticated`, `authentication_failed`: no key, or a bad one."),
    404: _error("`not_found`: nothing with that identifier in the terminal's merchant."),
    405: _error("`method_not_allowed`."),
    415: _error("`unsupported_media_type`: send `application/json`."),
}
RATE_LIMITED = {429: _retry("`rate_limited`: too many requests from this terminal key.")}
POST_ERRORS = {
    **ERRORS,
    **RATE_LIMITED,
    403: _error(
        "`pin_invalid`: missing, wrong or not a manager's; `pin_locked`: too many "
        "wrong PINs, locked for 15 minutes; `terminal_suspended`: PIN entry was locked 3 "
        "times within 24 hours, until an operator lifts the suspension."
    ),
    413: _error("`too_large`: the request body is too large."),
    422: _error("`idempotency_key_reused`: this key came with another request."),
    503: _retry("`busy`: the card stayed locked by other operations; retry."),
}


def _conflict(codes: str) -> OpenApiResponse:
    in_progress = (
        "`idempotency_key_in_progress` (with Retry-After) while a request with the same "
        "Idempotency-Key runs."
    )
    return _retry(f"{codes}; {in_progress}" if codes else in_progress)


def _mutation(operation_id, summary, description, request, response, conflicts, status=201):
    return extend_schema(
        operation_id=operation_id,
        tags=[TAG],
        summary=summary,
        description=description,
        request=request,
        parameters=[IDEMPOTENCY_KEY, _retry_after([409, 429, 503])],
        responses={status: response, **POST_ERRORS, 409: _conflict(conflicts)},
    )


program = extend_schema(
    operation_id="terminal_program",
    tags=[TAG],
    summary="The terminal's programme",
    description="The live programme of the terminal's merchant, with its active rewards.",
    parameters=[_retry_after([429])],
    responses={200: ProgramOutput, **ERRORS, **RATE_LIMITED, 409: _error("`no_live_program`.")},
)

card = extend_schema(
    operation_id="terminal_card",
    tags=[TAG],
    summary="Look up a card",
    description="By the number printed on the card or in its QR code; spaces and dashes are "
    "ignored, and a number with a wrong check digit is not found.",
    parameters=[_retry_after([429])],
    responses={200: CardOutput, **ERRORS, **RATE_LIMITED},
)

card_transactions = extend_schema(
    operation_id="terminal_card_transactions",
    tags=[TAG],
    summary="A card's ledger",
    description="Newest first, 50 per page; `page_size` up to 500.",
    parameters=[
        OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1."),
        OpenApiParameter("page_size", OpenApiTypes.INT, description="Up to 500."),
        _retry_after([429]),
    ],
    responses={200: TransactionPageOutput, **ERRORS, **RATE_LIMITED},
)

enroll = _mutation(
    "terminal_enroll",
    "Enrol a customer",
    "A new card at the terminal's store, with the programme's welcome bonus.",
    EnrollmentInput,
    EnrollmentOutput,
    "`already_enrolled`, `retired_program_card`, `no_live_program`",
)

earn = _mutation(
    "terminal_points_earn",
    "Earn points",
    "For a purchase amount (points = floor(cents x points_per_euro / 100)), or a number of points.",
    EarnInput,
    LedgerOperationOutput,
    "`card_inactive`, `points_not_enabled`, `below_minimum_purchase`",
)

redeem = _mutation(
    "terminal_points_redeem",
    "Redeem points",
    "A number of points, or a catalogue reward's cost.",
    RedeemInput,
    LedgerOperationOutput,
    "`insufficient_points`, `card_inactive`, `points_not_enabled`, "
    "`cross_location_not_allowed`, `reward_unavailable`",
)

adjust = _mutation(
    "terminal_points_adjust",
    "Adjust points",
    "A manual correction, up or down, with a reason; needs a manager's PIN.",
    AdjustInput,
    LedgerOperationOutput,
    "`insufficient_points`, `card_inactive`, `points_not_enabled`",
)

add_stamps = _mutation(
    "terminal_stamps_add",
    "Add stamps",
    "One stamp by default.",
    StampsInput,
    LedgerOperationOutput,
    "`card_inactive`, `stamps_not_enabled`",
)

redeem_stamps = _mutation(
    "terminal_stamps_redeem",
    "Redeem stamps",
    "Exchange a full set of stamps (the programme's target) for the reward.",
    StaffInput,
    LedgerOperationOutput,
    "`insufficient_stamps`, `card_inactive`, `stamps_not_enabled`, `cross_location_not_allowed`",
)

void = _mutation(
    "terminal_transaction_void",
    "Void a transaction",
    "Reverse an earn, redeem or stamp transaction with an opposite one, at most once.",
    VoidInput,
    LedgerOperationOutput,
    "`already_voided`, `not_voidable`, `insufficient_points`, `insufficient_stamps`, "
    "`card_inactive`, `cross_location_not_allowed`",
)

unlock = _mutation(
    "terminal_pin_unlock",
    "Unlock a staff PIN",
    "Clear a PIN's lock and its count of wrong PINs; needs a manager's PIN.",
    StaffInput,
    StaffPinOutput,
    "",
    status=200,
)

unlock_terminal = _mutation(
    "terminal_unlock",
    "Unlock PIN entry at this terminal",
    "After too many wrong PINs, PIN entry at the terminal is locked for 15 minutes, whoever "
    "they were for. A manager's right PIN, with its `staff_id`, lifts the lock; a wrong one "
    "counts against that manager's own PIN.",
    TerminalUnlockInput,
    TerminalOutput,
    "",
    status=200,
)
