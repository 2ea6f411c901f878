from django.core.management.base import BaseCommand, CommandError
from django.db import ProgrammingError, connection

from loyalty.services.database_roles import grant_app_role


class Command(BaseCommand):
    help = (
        "Grant a PostgreSQL role what the web and worker processes need (rows, not tables). "
        "Run as the tables' owner, after migrate."
    )

    def add_arguments(self, parser):
        parser.add_argument("role", help="An existing role, e.g. loyalty_app.")

    def handle(self, *args, role, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist on PostgreSQL only.")
        try:
            grant_app_role(role=role)
        except ProgrammingError as exc:  # e.g. no such role
            raise CommandError(str(exc).strip()) from None
        self.stdout.write(f"Granted {role} the rights of the web and worker processes.")
