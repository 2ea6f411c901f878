from django.core.management.base import BaseCommand, CommandError

from loyalty.services.terminal_keys import issue_terminal_key
from merchants.models import Store


class Command(BaseCommand):
    help = (
        "Issue an API key for a store terminal and print the key alone on stdout (it cannot "
        "be shown again)."
    )

    def add_arguments(self, parser):
        parser.add_argument("merchant", help="The merchant's slug.")
        parser.add_argument("store", help="The store's code.")
        parser.add_argument("--name", default="terminal", help="A name for the terminal.")

    def handle(self, *args, merchant, store, name, **options):
        found = Store.objects.filter(merchant__slug=merchant, code=store).first()
        if found is None:
            raise CommandError(f"No store {store!r} for merchant {merchant!r}.")
        _, key = issue_terminal_key(store=found, name=name)
        self.stdout.write(key)
