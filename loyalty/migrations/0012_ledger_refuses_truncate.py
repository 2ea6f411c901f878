"""On PostgreSQL, the ledger refuses TRUNCATE too: row triggers do not fire on it, so without
this `TRUNCATE loyalty_transaction CASCADE` would empty the ledger."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_ledger_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'loyalty_transaction is append-only: TRUNCATE refused'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledger_refuse_truncate
    BEFORE TRUNCATE ON loyalty_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty_ledger_refuse_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_ledger_refuse_truncate ON loyalty_transaction;
DROP FUNCTION IF EXISTS loyalty_ledger_refuse_truncate();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0011_terminal_key_suspension")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
