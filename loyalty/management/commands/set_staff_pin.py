from django.core.management.base import BaseCommand, CommandError

from loyalty.errors import InvalidInput
from loyalty.services.staff_pins import set_staff_pin
from merchants.models import Store


class Command(BaseCommand):
    help = "Create a staff member's PIN at a store, or reset it (which also unlocks it)."

    def add_arguments(self, parser):
        parser.add_argument("merchant", help="The merchant's slug.")
        parser.add_argument("store", help="The store's code.")
        parser.add_argument("name", help="The staff member's name.")
        parser.add_argument("pin", help="4 to 8 digits.")
        parser.add_argument("--manager", action="store_true", help="A manager's PIN.")

    def handle(self, *args, merchant, store, name, pin, manager, **options):
        found = Store.objects.filter(merchant__slug=merchant, code=store).first()
        if found is None:
            raise CommandError(f"No store {store!r} for merchant {merchant!r}.")
        try:
            staff_pin = set_staff_pin(store=found, staff_name=name, pin=pin, is_manager=manager)
        except InvalidInput as exc:
            raise CommandError(exc.detail) from None
        role = "manager" if staff_pin.is_manager else "staff"
        self.stdout.write(
            f"PIN set for {staff_pin.staff_name} ({role}) at {found}, id {staff_pin.pk}."
        )
