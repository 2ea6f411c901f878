from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from loyalty.demo import load_demo
from loyalty.services.analytics_summaries import refresh_all_analytics


class Command(BaseCommand):
    help = "Load demo merchants, stores, programmes, cards and PINs (idempotent; local use only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            # The demo's superuser is admin/admin: never on a server that others can reach.
            raise CommandError(
                "load_demo creates the superuser admin/admin and runs only with "
                "DJANGO_DEBUG=true (local use)."
            )
        demo = load_demo()
        # The analytics pages read summaries the hourly job refreshes: the demo's figures
        # show at once.
        refresh_all_analytics(as_of=timezone.now())
        bakery_key = demo.terminal_keys["demo-bakery"]
        card = demo.cards["demo-bakery"][0]
        self.stdout.write(
            f"""
Demo data ready.

  Admin:     http://127.0.0.1:8000/admin/
             user {demo.admin_username!r}, password {demo.admin_password!r} (local use only)
  Staff PIN: {demo.staff_pin} (staff), {demo.manager_pin} (manager), at every demo store

  Terminal keys (new on every run; store 'main'):
"""
        )
        for slug, key in demo.terminal_keys.items():
            self.stdout.write(f"    {slug:<12} {key}")
            self.stdout.write(f"    {'':<12} cards: {', '.join(demo.cards[slug])}")
        self.stdout.write("\n  Customer pages (enrol, then follow the link to the card):")
        for slug, path in demo.enrollment_paths.items():
            self.stdout.write(f"    {slug:<12} http://127.0.0.1:8000{path}")
            self.stdout.write(
                f"    {'':<12} a demo card: http://127.0.0.1:8000{demo.card_paths[slug]}"
            )
        self.stdout.write(
            f"""
  Counter tablet: http://127.0.0.1:8000/counter/pair/ with the code {demo.pairing_code}
             (demo-bakery, store 'main'; valid 10 minutes, once; a new one: admin, Terminal
             API keys, Pair a tablet)

  Try the terminal API:
    curl -s -H 'Authorization: Api-Key {bakery_key}' \\
      http://127.0.0.1:8000/api/v1/terminal/cards/{card}/
    curl -s -X POST -H 'Authorization: Api-Key {bakery_key}' -H 'Content-Type: application/json' \\
      -d '{{"purchase_amount_cents": 1250, "staff_pin": "{demo.staff_pin}"}}' \\
      http://127.0.0.1:8000/api/v1/terminal/cards/{card}/points/earn/
"""
        )
