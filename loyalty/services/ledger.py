"""Every change of a balance goes through one of these services.

The ledger rule: inside one `transaction.atomic()`, lock the card row, check the rules on the
locked row, write one ledger row and update the card. Emails are requested through the outbox
in the same transaction, so a rolled-back change sends nothing; a card's wallet pass is
marked stale in the card's UPDATE and pushed after the commit.
"""

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.services import get_or_create_customer
from loyalty import card_numbers, emails
from loyalty.errors import (
    AlreadyEnrolled,
    AlreadyVoided,
    BelowMinimumPurchase,
    CardInactive,
    CrossLocationNotAllowed,
    DomainError,
    InsufficientPoints,
    InsufficientStamps,
    InvalidInput,
    NoLiveProgram,
    NotFound,
    NotVoidable,
    PointsNotEnabled,
    RetiredProgramCard,
    RewardUnavailable,
    StampsNotEnabled,
)
from loyalty.models import Card, Program, Reward, StaffPin, Transaction, TransactionType
from loyalty.wallet import services as wallet_services
from merchants.log_events import log_event_on_commit
from merchants.models import Store
from messaging.services import queue_email

logger = logging.getLogger(__name__)

# Bounds that keep every figure far inside a 32-bit column.
MAX_POINTS_PER_OPERATION = 1_000_000
MAX_PURCHASE_CENTS = 100_000_000
MAX_STAMPS_PER_OPERATION = 100
MAX_POINTS_BALANCE = 1_000_000_000

VOIDABLE_TYPES = frozenset(
    {
        TransactionType.POINTS_EARNED,
        TransactionType.POINTS_REDEEMED,
        TransactionType.STAMP_EARNED,
        TransactionType.STAMP_REDEEMED,
    }
)


@dataclass(frozen=True)
class Actor:
    """Who performs an operation: the staff PIN at a terminal, a merchant's user, or an
    operator acting on a merchant's behalf. All empty for system actions."""

    staff_pin: StaffPin | None = None
    user: AbstractBaseUser | None = None
    admin: AbstractBaseUser | None = None


SYSTEM = Actor()


def points_for_purchase(*, program: Program, purchase_amount_cents: int) -> int:
    """floor(cents * points_per_euro / 100); exact, in Decimal."""
    points = Decimal(purchase_amount_cents) * program.points_per_euro / 100
    return int(points.to_integral_value(rounding=ROUND_FLOOR))


@contextmanager
def _card_transaction() -> Iterator[None]:
    """The ledger rule's transaction, or the caller's when there is one (the terminal API
    runs each operation, with its PIN check and idempotency record, in one).

    In the caller's transaction there is no savepoint, which would cost two round trips on
    every operation: the services raise their DomainErrors after the lock but before any
    write, so a refusal leaves the caller's transaction as it was. Any other error may come
    after a write, so it dooms the caller's transaction, as `atomic(savepoint=False)` does.
    """
    if not connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    try:
        yield
    except DomainError:
        raise
    except BaseException:
        transaction.set_rollback(True)
        raise


def lock_card(card_id: int) -> Card:
    """The card row, locked until the end of the caller's transaction, with its programme,
    merchant (for the log, without its logo), customer and enrolling store (read, not
    locked)."""
    return (
        Card.all_objects.select_for_update(of=("self",))
        .select_related("program__merchant", "customer", "enrolled_store")
        .defer("program__merchant__logo")
        .get(pk=card_id)
    )


def _check_positive_int(name: str, value, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidInput(
            f"{name} must be a whole number from 1 to {maximum}.",  # pragma: no mutate
            fields={name: ["invalid"]},
        )
    return value


def _check_usable(card: Card, store: Store | None) -> None:
    if store is not None and store.merchant_id != card.program.merchant_id:
        raise NotFound(
            "Card not found."  # pragma: no mutate
        )
    if card.deleted_at is not None or not card.is_active or card.program.deleted_at is not None:
        raise CardInactive()


def _check_location(card: Card, store: Store | None) -> None:
    if (
        store is not None
        and not card.program.allow_cross_location_redemption
        and store.pk != card.enrolled_store_id
    ):
        raise CrossLocationNotAllowed()


def _write(
    card: Card,
    *,
    type: str,
    store: Store | None,
    actor: Actor,
    points_delta: int = 0,
    stamps_delta: int = 0,
    lifetime: dict[str, int] | None = None,
    now: datetime.datetime | None = None,
    **fields,
) -> Transaction:
    """Apply the deltas to the locked card and append their ledger row."""
    card.points_balance += points_delta
    card.stamp_count += stamps_delta
    if card.points_balance > MAX_POINTS_BALANCE:
        raise InvalidInput(
            "The card's balance would exceed the allowed maximum."  # pragma: no mutate
        )
    card.last_activity_at = now or timezone.now()
    update_fields = ["points_balance", "stamp_count", "last_activity_at"]
    for name, amount in (lifetime or {}).items():
        setattr(card, name, getattr(card, name) + amount)
        update_fields.append(name)
    if card.wallet_pass_state:
        # The pass shows the balances: stale in this same UPDATE, pushed after the commit.
        # A card without a pass costs nothing more.
        card.wallet_pass_state = Card.WalletPassState.STALE
        update_fields.append("wallet_pass_state")
        wallet_services.push_after_commit(card.pk)
    entry = Transaction(
        card=card,
        merchant_id=card.program.merchant_id,
        store=store,
        type=type,
        points_delta=points_delta,
        points_balance_after=card.points_balance,
        stamps_delta=stamps_delta,
        stamps_balance_after=card.stamp_count,
        staff_pin=actor.staff_pin,
        acting_user=actor.user,
        acting_admin=actor.admin,
        created_at=card.last_activity_at,
        **fields,
    )
    card.save(update_fields=update_fields)
    entry.save(force_insert=True)
    log_event_on_commit(
        logger,
        str(type),
        merchant=card.program.merchant.slug,
        store=store.code if store is not None else None,
        card_id=card.pk,
        transaction_id=entry.pk,
        points=points_delta,
        stamps=stamps_delta,
        points_balance=card.points_balance,
        stamp_count=card.stamp_count,
        voids=entry.voids_id,
    )
    return entry


def _queue_card_email(card: Card, code: str, **extra) -> None:
    if card.customer is None:
        return
    queue_email(emails.card_email(card, code, **extra))


def _create_card(*, program: Program, customer, store: Store) -> Card:
    for _ in range(5):
        try:
            with transaction.atomic():
                return Card.objects.create(
                    program=program,
                    customer=customer,
                    enrolled_store=store,
                    number=card_numbers.generate(),
                )
        except IntegrityError:
            # The customer is locked, so only a card-number collision can land here.
            continue
    raise RuntimeError(
        "Could not allocate a unique card number."  # pragma: no mutate
    )


def enroll_customer(
    *,
    program: Program,
    store: Store,
    email: str,
    first_name: str,
    last_name: str = "",
    phone: str = "",
    birth_date: datetime.date | None = None,
    locale: str | None = None,
    marketing_consent: bool = False,
    actor: Actor = SYSTEM,
) -> Card:
    """A new card for the customer (created if new to the merchant), with the welcome bonus."""
    if program.deleted_at is not None:
        raise NoLiveProgram()
    if store.merchant_id != program.merchant_id or store.deleted_at is not None:
        raise NotFound(
            "Store not found."  # pragma: no mutate
        )
    with transaction.atomic():
        # The customer row lock serialises enrolments of the same person, which makes the
        # one-card-per-programme check below safe without a database constraint.
        customer = get_or_create_customer(
            merchant=program.merchant,
            email=email,
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            birth_date=birth_date,
            locale=locale,
            marketing_consent=marketing_consent,
        )
        existing = Card.objects.filter(program=program, customer=customer)
        if not program.allow_cross_location_redemption:
            existing = existing.filter(enrolled_store=store)
        if existing.exists():
            raise AlreadyEnrolled()
        # One live card per store and customer (a database constraint): a card left live by
        # a programme trashed before trashing cascaded would make the insert fail.
        if Card.objects.filter(enrolled_store=store, customer=customer).exists():
            raise RetiredProgramCard()
        card = _create_card(program=program, customer=customer, store=store)
        card.program = program
        bonus = program.welcome_bonus_points if program.has_points else 0
        log_event_on_commit(
            logger,
            "card_enrolled",
            merchant=program.merchant.slug,
            store=store.code,
            card_id=card.pk,
            customer_id=customer.pk,
            welcome_bonus_points=bonus,
        )
        if bonus:
            _write(
                card,
                type=TransactionType.WELCOME_BONUS,
                store=store,
                actor=actor,
                points_delta=bonus,
                lifetime={"lifetime_points_earned": bonus},
            )
        else:
            card.last_activity_at = timezone.now()
            card.save(update_fields=["last_activity_at"])
        _queue_card_email(card, emails.ENROLLMENT)
        if bonus:
            _queue_card_email(card, emails.WELCOME_BONUS, welcome_bonus_points=bonus)
    return card


def earn_points(
    *,
    card: Card,
    store: Store | None,
    purchase_amount_cents: int | None = None,
    points: int | None = None,
    order_reference: str = "",
    actor: Actor = SYSTEM,
) -> Transaction:
    """Points for a purchase amount, or a given number of points."""
    if (purchase_amount_cents is None) == (points is None):
        raise InvalidInput(
            "Give either purchase_amount_cents or points, not both.",  # pragma: no mutate
            fields={"non_field_errors": ["invalid"]},
        )
    if purchase_amount_cents is not None:
        _check_positive_int("purchase_amount_cents", purchase_amount_cents, MAX_PURCHASE_CENTS)
    else:
        _check_positive_int("points", points, MAX_POINTS_PER_OPERATION)
    with _card_transaction():
        card = lock_card(card.pk)
        _check_usable(card, store)
        program = card.program
        if not program.has_points:
            raise PointsNotEnabled()
        if purchase_amount_cents is not None:
            if purchase_amount_cents < program.minimum_purchase_cents:
                raise BelowMinimumPurchase(
                    f"Purchases below {program.minimum_purchase_cents} cents "  # pragma: no mutate
                    "earn no points."  # pragma: no mutate
                )
            points = points_for_purchase(
                program=program, purchase_amount_cents=purchase_amount_cents
            )
            if points > MAX_POINTS_PER_OPERATION:
                raise InvalidInput(
                    "The purchase would earn more points than allowed at once."  # pragma: no mutate
                )
        return _write(
            card,
            type=TransactionType.POINTS_EARNED,
            store=store,
            actor=actor,
            points_delta=points,
            lifetime={"lifetime_points_earned": points},
            purchase_amount_cents=purchase_amount_cents,
            order_reference=order_reference,
        )


def redeem_points(
    *,
    card: Card,
    store: Store | None,
    points: int | None = None,
    reward_id: int | None = None,
    actor: Actor = SYSTEM,
) -> Transaction:
    """Take points off the card: a number of points, or the cost of a catalogue reward."""
    if (points is None) == (reward_id is None):
        raise InvalidInput(
            "Give either points or reward_id, not both.",  # pragma: no mutate
            fields={"non_field_errors": ["invalid"]},
        )
    if points is not None:
        _check_positive_int("points", points, MAX_POINTS_PER_OPERATION)
    with _card_transaction():
        card = lock_card(card.pk)
        _check_usable(card, store)
        if not card.program.has_points:
            raise PointsNotEnabled()
        _check_location(card, store)
        reward = None
        if reward_id is not None:
            reward = Reward.objects.filter(
                pk=reward_id, program_id=card.program_id, is_active=True
            ).first()
            if reward is None:
                raise RewardUnavailable()
            points = reward.points_cost
        if card.points_balance < points:
            raise InsufficientPoints(
                f"The card has {card.points_balance} points; "  # pragma: no mutate
                f"{points} are needed."  # pragma: no mutate
            )
        return _write(
            card,
            type=TransactionType.POINTS_REDEEMED,
            store=store,
            actor=actor,
            points_delta=-points,
            lifetime={"lifetime_points_redeemed": points},
            reward=reward,
        )


def add_stamps(
    *, card: Card, store: Store | None, count: int = 1, actor: Actor = SYSTEM
) -> Transaction:
    _check_positive_int("count", count, MAX_STAMPS_PER_OPERATION)
    with _card_transaction():
        card = lock_card(card.pk)
        _check_usable(card, store)
        if not card.program.has_stamps:
            raise StampsNotEnabled()
        before = card.stamp_count
        entry = _write(
            card, type=TransactionType.STAMP_EARNED, store=store, actor=actor, stamps_delta=count
        )
        if before < card.program.stamps_target <= card.stamp_count:
            _queue_card_email(card, emails.REWARD_READY)
        return entry


def redeem_stamps(*, card: Card, store: Store | None, actor: Actor = SYSTEM) -> Transaction:
    """Exchange a full set of stamps (the programme's target) for the reward."""
    with _card_transaction():
        card = lock_card(card.pk)
        _check_usable(card, store)
        if not card.program.has_stamps:
            raise StampsNotEnabled()
        _check_location(card, store)
        target = card.program.stamps_target
        if card.stamp_count < target:
            raise InsufficientStamps(
                f"The card has {card.stamp_count} of {target} stamps."  # pragma: no mutate
            )
        return _write(
            card,
            type=TransactionType.STAMP_REDEEMED,
            store=store,
            actor=actor,
            stamps_delta=-target,
        )


def void_transaction(
    *, entry: Transaction, store: Store | None, reason: str = "", actor: Actor = SYSTEM
) -> Transaction:
    """Reverse an earn, redeem or stamp transaction with an opposite row that points at it.
    A transaction is voided at most once; voiding an earn whose points are spent is refused."""
    with _card_transaction():
        card = lock_card(entry.card_id)
        _check_usable(card, store)
        _check_location(card, store)
        if entry.type not in VOIDABLE_TYPES:
            raise NotVoidable()
        if Transaction.objects.filter(voids_id=entry.pk).exists():
            raise AlreadyVoided()
        points_delta = -entry.points_delta
        stamps_delta = -entry.stamps_delta
        if card.points_balance + points_delta < 0:
            raise InsufficientPoints(
                "The points to take back have already been spent."  # pragma: no mutate
            )
        if card.stamp_count + stamps_delta < 0:
            raise InsufficientStamps(
                "The stamps to take back have already been used."  # pragma: no mutate
            )
        is_stamp = entry.type in (TransactionType.STAMP_EARNED, TransactionType.STAMP_REDEEMED)
        return _write(
            card,
            type=TransactionType.STAMP_VOIDED if is_stamp else TransactionType.POINTS_VOIDED,
            store=store,
            actor=actor,
            points_delta=points_delta,
            stamps_delta=stamps_delta,
            lifetime={"lifetime_points_voided": abs(points_delta)},
            voids=entry,
            reason=reason,
        )


def adjust_points(
    *,
    card: Card,
    points: int,
    reason: str,
    store: Store | None = None,
    actor: Actor = SYSTEM,
) -> Transaction:
    """A manual correction, up or down, always with a reason."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise InvalidInput(
            "points must be a non-zero whole number.",  # pragma: no mutate
            fields={"points": ["invalid"]},
        )
    if abs(points) > MAX_POINTS_PER_OPERATION:
        raise InvalidInput(
            f"An adjustment is at most {MAX_POINTS_PER_OPERATION} points.",  # pragma: no mutate
            fields={"points": ["invalid"]},
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "An adjustment needs a reason.",  # pragma: no mutate
            fields={"reason": ["required"]},
        )
    with _card_transaction():
        card = lock_card(card.pk)
        _check_usable(card, store)
        if not card.program.has_points:
            raise PointsNotEnabled()
        if card.points_balance + points < 0:
            raise InsufficientPoints(
                f"The card has only {card.points_balance} points."  # pragma: no mutate
            )
        return _write(
            card,
            type=TransactionType.POINTS_ADJUSTED,
            store=store,
            actor=actor,
            points_delta=points,
            reason=reason,
        )
