"""The PostgreSQL role that web and worker processes run as: it reads and writes rows and
owns nothing, so it can neither TRUNCATE, ALTER, nor disable a trigger. Migrations run as the
tables' owner, which grants this role its rights on what they create."""

from django.db import connection
from psycopg import sql

from loyalty.models import Transaction

GRANTS = [
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    # Tables and sequences that later migrations create, as the owner running this.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    # The ledger's trigger refuses it too; a role with no right to it is refused first.
    f"REVOKE DELETE ON {Transaction._meta.db_table} FROM {{role}}",
]


def grant_app_role(*, role: str) -> None:
    """Give an existing role the rights the web and worker processes need, and no more.

    Run as the owner of the tables (the role that runs migrations); safe to run again."""
    with connection.cursor() as cursor:
        for grant in GRANTS:
            cursor.execute(sql.SQL(grant).format(role=sql.Identifier(role)))
