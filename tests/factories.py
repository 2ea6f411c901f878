from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from customers.models import Customer
from loyalty import card_numbers
from loyalty.models import Card, Program, Reward, StaffPin, TerminalKey, Transaction
from loyalty.pins import pin_digest
from merchants.models import Merchant, StaffMembership, Store
from messaging.models import OutgoingEmail


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("password")


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    timezone = "Europe/Luxembourg"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    merchant = factory.SubFactory(MerchantFactory)
    code = factory.Sequence(lambda n: f"store-{n}")
    name = factory.LazyAttribute(lambda o: f"Store {o.code}")


class StaffMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffMembership

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = StaffMembership.Role.STAFF


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    merchant = factory.SubFactory(MerchantFactory)
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Customer"


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    merchant = factory.SubFactory(MerchantFactory)
    name = "Rewards"
    kind = Program.Kind.HYBRID
    points_per_euro = Decimal("1")
    stamps_target = 5


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    program = factory.SubFactory(ProgramFactory)
    name = "Coffee"
    points_cost = 100


class CardFactory(factory.django.DjangoModelFactory):
    """A card as enrolment leaves it: balances start at zero and change only through the
    ledger services."""

    class Meta:
        model = Card

    program = factory.SubFactory(ProgramFactory)
    customer = factory.SubFactory(
        CustomerFactory, merchant=factory.SelfAttribute("..program.merchant")
    )
    enrolled_store = factory.SubFactory(
        StoreFactory, merchant=factory.SelfAttribute("..program.merchant")
    )
    number = factory.LazyFunction(card_numbers.generate)


class StaffPinFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffPin
        exclude = ["pin"]

    store = factory.SubFactory(StoreFactory)
    staff_name = factory.Sequence(lambda n: f"Staff {n}")
    pin = factory.Sequence(lambda n: f"{1000 + n % 9000}")
    pin_digest = factory.LazyAttribute(lambda o: pin_digest(o.pin))


class TerminalKeyFactory(factory.django.DjangoModelFactory):
    """Use `TerminalKeyFactory.create_with_key()` to get the key in clear too."""

    class Meta:
        model = TerminalKey

    store = factory.SubFactory(StoreFactory)
    name = factory.Sequence(lambda n: f"terminal {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        key, secret = model_class.objects.create_key(**kwargs)
        key.secret = secret
        return key


class TransactionFactory(factory.django.DjangoModelFactory):
    """A raw ledger row, for tests of reads; balance changes go through the services."""

    class Meta:
        model = Transaction

    card = factory.SubFactory(CardFactory)
    merchant = factory.SelfAttribute("card.program.merchant")
    store = factory.SelfAttribute("card.enrolled_store")
    type = "points_earned"
    points_delta = 0
    points_balance_after = 0
    stamps_delta = 0
    stamps_balance_after = 0


class OutgoingEmailFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutgoingEmail

    merchant = factory.SubFactory(MerchantFactory)
    template = "loyalty_enrollment"
    to = "someone@example.com"
