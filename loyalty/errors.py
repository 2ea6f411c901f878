"""Ledger rule violations, each with a stable code the API answers with."""

from merchants.errors import DomainError, InvalidInput, NotFound


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    default_detail = "The card does not have enough points."


class InsufficientStamps(DomainError):
    code = "insufficient_stamps"
    default_detail = "The card does not have enough stamps."


class AlreadyVoided(DomainError):
    code = "already_voided"
    default_detail = "This transaction has already been voided."


class NotVoidable(DomainError):
    code = "not_voidable"
    default_detail = "Only earn, redeem and stamp transactions can be voided."


class CardInactive(DomainError):
    code = "card_inactive"
    default_detail = "The card is not active."


class CrossLocationNotAllowed(DomainError):
    code = "cross_location_not_allowed"
    default_detail = "This programme only allows redeeming and voiding at the card's own store."


class PointsNotEnabled(DomainError):
    code = "points_not_enabled"
    default_detail = "The programme does not collect points."


class StampsNotEnabled(DomainError):
    code = "stamps_not_enabled"
    default_detail = "The programme does not collect stamps."


class BelowMinimumPurchase(DomainError):
    code = "below_minimum_purchase"
    default_detail = "The purchase is below the programme's minimum for earning points."


class RewardUnavailable(DomainError):
    code = "reward_unavailable"
    default_detail = "The reward does not exist or is not active."


class AlreadyEnrolled(DomainError):
    code = "already_enrolled"
    default_detail = "The customer already has a card for this programme."


class RetiredProgramCard(DomainError):
    code = "retired_program_card"
    default_detail = (
        "The customer still has a live card of a programme in the trash at this store: an "
        "operator trashes that card (or restores its programme) first."
    )


class NoLiveProgram(DomainError):
    code = "no_live_program"
    default_detail = "The merchant has no live programme."


class PinInvalid(DomainError):
    code = "pin_invalid"
    status = 403
    default_detail = "The staff PIN is not valid."


class PinLocked(DomainError):
    code = "pin_locked"
    status = 403
    default_detail = "Too many wrong PINs: PIN entry is locked for a while."


class TerminalSuspended(DomainError):
    code = "terminal_suspended"
    status = 403
    default_detail = (
        "PIN entry was locked too often: this terminal key is suspended until an operator "
        "lifts the suspension in the admin."
    )


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status = 422
    default_detail = "This Idempotency-Key was already used with another request."


class PairingCodeInvalid(DomainError):
    code = "pairing_code_invalid"
    status = 404
    default_detail = "This pairing code does not exist."


class PairingCodeExpired(DomainError):
    code = "pairing_code_expired"
    status = 410
    default_detail = "This pairing code has expired."


class PairingCodeUsed(DomainError):
    code = "pairing_code_used"
    status = 410
    default_detail = "This pairing code has already been used."


class RetryLater(DomainError):
    """An error the client should retry after `retry_after` seconds (sent as Retry-After)."""

    retry_after = 1

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None):
        super().__init__(detail)
        if retry_after is not None:
            self.retry_after = retry_after


class IdempotencyKeyInProgress(RetryLater):
    code = "idempotency_key_in_progress"
    status = 409
    default_detail = "A request with this Idempotency-Key is still being processed."


class RateLimited(RetryLater):
    code = "rate_limited"
    status = 429
    default_detail = "Too many requests: slow down."


class Busy(RetryLater):
    code = "busy"
    status = 503
    default_detail = "The card is busy with other operations: retry shortly."


__all__ = [
    "AlreadyEnrolled",
    "AlreadyVoided",
    "BelowMinimumPurchase",
    "Busy",
    "CardInactive",
    "CrossLocationNotAllowed",
    "DomainError",
    "IdempotencyKeyInProgress",
    "IdempotencyKeyReused",
    "InsufficientPoints",
    "InsufficientStamps",
    "InvalidInput",
    "NoLiveProgram",
    "NotFound",
    "NotVoidable",
    "PairingCodeExpired",
    "PairingCodeInvalid",
    "PairingCodeUsed",
    "PinInvalid",
    "PinLocked",
    "PointsNotEnabled",
    "RateLimited",
    "RetryLater",
    "RetiredProgramCard",
    "RewardUnavailable",
    "StampsNotEnabled",
    "TerminalSuspended",
]


class WalletDisabled(DomainError):
    code = "wallet_disabled"
    status = 404
    default_detail = "Google Wallet is not available."
