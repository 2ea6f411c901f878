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


class NoLiveProgram(DomainError):
    code = "no_live_program"
    default_detail = "The merchant has no live programme."


__all__ = [
    "AlreadyEnrolled",
    "AlreadyVoided",
    "BelowMinimumPurchase",
    "CardInactive",
    "CrossLocationNotAllowed",
    "DomainError",
    "InsufficientPoints",
    "InsufficientStamps",
    "InvalidInput",
    "NoLiveProgram",
    "NotFound",
    "NotVoidable",
    "PointsNotEnabled",
    "RewardUnavailable",
    "StampsNotEnabled",
]
