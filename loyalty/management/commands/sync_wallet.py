from django.core.management.base import BaseCommand, CommandError

from loyalty.models import Card
from loyalty.services.task_runs import run_recorded
from loyalty.tasks import SYNC_WALLET_PASSES
from loyalty.wallet import config
from loyalty.wallet.services import sync_stale_passes
from merchants.models import Merchant


class Command(BaseCommand):
    help = (
        "Push Google Wallet passes again now, whatever their state: one card's, or every "
        "pass of a merchant (with its programme's class). Recorded as a sync run."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--card", metavar="NUMBER", help="The card's number.")
        target.add_argument("--merchant", metavar="SLUG", help="Every pass of this merchant.")

    def handle(self, *args, card, merchant, **options):
        configuration = config.read_configuration()
        if not configuration.configured:
            raise CommandError(configuration.reason)
        if card is not None:
            number = card.replace(" ", "")
            found = Card.all_objects.filter(number=number).first()
            if found is None:
                raise CommandError(f"Unknown card: {card}")
            if not found.wallet_pass_state:
                raise CommandError(f"Card {card} has no Google Wallet pass.")
            scope, selection = f"card {number}", {"card_ids": [found.pk]}
        else:
            found = Merchant.objects.filter(slug=merchant).first()
            if found is None:
                raise CommandError(f"Unknown merchant: {merchant}")
            scope, selection = merchant, {"merchants": [found]}
        counts = run_recorded(
            task=SYNC_WALLET_PASSES,
            scope=scope,
            work=lambda: sync_stale_passes(force=True, **selection).as_dict(),
        )
        summary = f"Pushed {counts['pushed']} passes; {counts['failed']} failed"
        if counts["failed"]:
            ids = ", ".join(map(str, counts["failed_card_ids"]))
            raise CommandError(f"{summary} (card ids: {ids}). See the admin, Wallet passes.")
        self.stdout.write(f"{summary}.")
