"""Who may act for which merchant.

Platform operators are staff users without a StaffMembership: they act for every merchant
(their model permissions, or being a superuser, say what they may do). A merchant's staff
have one membership: they see only their merchant's rows, or their store's when the
membership names a store; owners and managers may run operations (bulk actions, point
restores, anonymisation), staff may only look.
"""

from dataclasses import dataclass

from django.db.models import QuerySet

from merchants.errors import DomainError
from merchants.models import Merchant, StaffMembership, Store

Role = StaffMembership.Role
OPERATING_ROLES = frozenset({Role.OWNER, Role.MANAGER})


class NotAllowed(DomainError):
    code = "not_allowed"
    status = 403
    default_detail = "Your role does not allow this."


@dataclass(frozen=True)
class Scope:
    """What a user reaches: every merchant (an operator), or one merchant or store."""

    merchant_id: int | None = None
    store_id: int | None = None
    role: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.merchant_id is None

    @property
    def may_operate(self) -> bool:
        return self.is_operator or self.role in OPERATING_ROLES

    def covers_merchant(self, merchant_id: int | None) -> bool:
        return self.is_operator or merchant_id == self.merchant_id

    def covers_store(self, store_id: int | None) -> bool:
        return self.is_operator or self.store_id is None or store_id == self.store_id


NO_ACCESS = Scope(merchant_id=0, role="")


def scope_for(user) -> Scope:
    """The user's scope; cached on the user object for the request."""
    cached = getattr(user, "_merchant_scope", None)
    if cached is not None:
        return cached
    if not (user and user.is_authenticated and user.is_active):
        scope = NO_ACCESS
    else:
        membership = StaffMembership.objects.filter(user=user).first()
        if membership is not None:
            scope = Scope(
                merchant_id=membership.merchant_id,
                store_id=membership.store_id,
                role=membership.role,
            )
        elif user.is_staff:
            scope = Scope()
        else:
            scope = NO_ACCESS
    user._merchant_scope = scope
    return scope


def require_operations(*, user, merchant_id: int, store_id: int | None = None) -> Scope:
    """The user's scope, if it may run operations for the merchant (and the store, when one
    is given); NotAllowed otherwise."""
    scope = scope_for(user)
    if not scope.covers_merchant(merchant_id) or (
        store_id is not None and not scope.covers_store(store_id)
    ):
        raise NotAllowed("This belongs to another merchant or store.")
    if not scope.may_operate:
        raise NotAllowed("Only owners and managers may do this.")
    return scope


# The model permission an operator needs to see merchants' figures (the analytics).
OPERATOR_PERMISSION = "merchants.view_merchant"


def is_operator(user) -> bool:
    """An operator (staff without a membership) who may see every merchant: a superuser, or
    one holding OPERATOR_PERMISSION. A merchant's staff stay scoped to their merchant,
    whatever model permissions the admin gives them for its pages."""
    return scope_for(user).is_operator and (user.is_superuser or user.has_perm(OPERATOR_PERMISSION))


def visible_merchants(user) -> QuerySet[Merchant]:
    """The live merchants the user may see."""
    if is_operator(user):
        return Merchant.objects.all()
    scope = scope_for(user)
    if scope.is_operator:
        return Merchant.objects.none()
    return Merchant.objects.filter(pk=scope.merchant_id)


@dataclass(frozen=True)
class MerchantAccess:
    merchant: Merchant
    # The one store a store-scoped member is limited to; None: every store of the merchant.
    store: Store | None


def merchant_access(user, merchant: Merchant) -> MerchantAccess | None:
    """What of the merchant the user may see, or None when it is none of their business."""
    if is_operator(user):
        return MerchantAccess(merchant=merchant, store=None)
    scope = scope_for(user)
    if scope.is_operator or not scope.covers_merchant(merchant.pk):
        return None
    store = Store.objects.get(pk=scope.store_id) if scope.store_id is not None else None
    return MerchantAccess(merchant=merchant, store=store)
