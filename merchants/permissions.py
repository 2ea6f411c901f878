"""Who may see a merchant's rows: the one rule every merchant-scoped page and API applies.

An operator sees every merchant; a merchant's staff see only the merchants they hold a
`StaffMembership` for, and store-scoped staff only their store's share of it.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from merchants.models import Merchant, StaffMembership, Store

# The model permission that makes a staff user an operator of every merchant.
OPERATOR_PERMISSION = "merchants.view_merchant"


def is_operator(user: AbstractBaseUser | AnonymousUser) -> bool:
    """A superuser, or staff holding the operator permission and no membership: a user who
    belongs to a merchant stays scoped to it, whatever model permissions the admin gives
    them for its pages."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if user.is_superuser:
        return True
    return user.has_perm(OPERATOR_PERMISSION) and not user.memberships.exists()


def visible_merchants(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Merchant]:
    """The live merchants the user may see."""
    if is_operator(user):
        return Merchant.objects.all()
    if not (user.is_authenticated and user.is_active):
        return Merchant.objects.none()
    return Merchant.objects.filter(memberships__user=user)


@dataclass(frozen=True)
class MerchantAccess:
    merchant: Merchant
    # The one store a store-scoped member is limited to; None: every store of the merchant.
    store: Store | None


def merchant_access(
    user: AbstractBaseUser | AnonymousUser, merchant: Merchant
) -> MerchantAccess | None:
    """What of the merchant the user may see, or None when it is none of their business."""
    if is_operator(user):
        return MerchantAccess(merchant=merchant, store=None)
    if not (user.is_authenticated and user.is_active):
        return None
    membership = (
        StaffMembership.objects.select_related("store").filter(user=user, merchant=merchant).first()
    )
    if membership is None:
        return None
    return MerchantAccess(merchant=merchant, store=membership.store)
