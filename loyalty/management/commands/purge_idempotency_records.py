from django.core.management.base import BaseCommand

from loyalty.services.idempotency import purge_idempotency_records


class Command(BaseCommand):
    help = "Delete terminal idempotency records older than their 24-hour retention."

    def handle(self, *args, **options):
        deleted = purge_idempotency_records()
        self.stdout.write(f"Deleted {deleted} idempotency records.")
