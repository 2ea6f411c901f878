"""merchants.access: who sees which merchant, the rule every merchant-scoped view uses."""

import pytest
from django.contrib.auth.models import AnonymousUser, Permission

from merchants.access import is_operator, merchant_access, visible_merchants
from tests.factories import MerchantFactory, StaffMembershipFactory, StoreFactory, UserFactory


@pytest.fixture
def alice(db):
    return MerchantFactory(slug="alice")


@pytest.fixture
def bob(db):
    return MerchantFactory(slug="bob")


def with_operator_permission(user):
    user.user_permissions.add(Permission.objects.get(codename="view_merchant"))
    # A fresh instance: Django caches a user's permissions.
    return type(user).objects.get(pk=user.pk)


def test_a_superuser_is_an_operator_of_every_merchant(alice, bob):
    user = UserFactory(is_staff=True, is_superuser=True)

    assert is_operator(user)
    assert set(visible_merchants(user)) == {alice, bob}
    assert merchant_access(user, bob).store is None


def test_staff_with_the_permission_and_no_membership_are_operators(alice, bob):
    user = with_operator_permission(UserFactory(is_staff=True))

    assert is_operator(user)
    assert set(visible_merchants(user)) == {alice, bob}


@pytest.mark.parametrize(
    "attributes", [{"is_staff": False}, {"is_staff": True, "is_active": False}]
)
def test_the_permission_alone_is_not_enough(alice, attributes):
    user = with_operator_permission(UserFactory(**attributes))

    assert not is_operator(user)
    assert list(visible_merchants(user)) == []
    assert merchant_access(user, alice) is None


def test_a_member_sees_only_their_merchants_even_with_the_permission(alice, bob):
    membership = StaffMembershipFactory(merchant=alice)
    user = with_operator_permission(membership.user)
    user.is_staff = True

    assert not is_operator(user)
    assert list(visible_merchants(user)) == [alice]
    assert merchant_access(user, alice).store is None
    assert merchant_access(user, bob) is None


def test_a_store_scoped_member_is_limited_to_the_store(alice):
    north = StoreFactory(merchant=alice, code="north")
    membership = StaffMembershipFactory(merchant=alice, store=north)

    assert merchant_access(membership.user, alice).store == north


def test_a_staff_user_without_membership_or_permission_sees_nothing(alice):
    user = UserFactory(is_staff=True)

    assert list(visible_merchants(user)) == []
    assert merchant_access(user, alice) is None


def test_an_anonymous_user_sees_nothing(alice):
    assert not is_operator(AnonymousUser())
    assert list(visible_merchants(AnonymousUser())) == []
    assert merchant_access(AnonymousUser(), alice) is None


def test_a_trashed_merchant_is_not_visible(alice):
    alice.deleted_at = alice.created_at
    alice.save()
    membership = StaffMembershipFactory(merchant=alice)

    assert list(visible_merchants(membership.user)) == []
