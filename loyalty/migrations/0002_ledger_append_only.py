"""On PostgreSQL, the ledger refuses DELETE and any UPDATE other than clearing the free-text
fields (`notes`, `reason`), which GDPR anonymisation needs."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'loyalty_transaction is append-only: DELETE refused'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF (to_jsonb(NEW) - 'notes' - 'reason') IS DISTINCT FROM (to_jsonb(OLD) - 'notes' - 'reason')
       OR (NEW.notes <> '' AND NEW.notes IS DISTINCT FROM OLD.notes)
       OR (NEW.reason <> '' AND NEW.reason IS DISTINCT FROM OLD.reason) THEN
        RAISE EXCEPTION 'loyalty_transaction is append-only: only clearing notes is allowed'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledger_append_only
    BEFORE UPDATE OR DELETE ON loyalty_transaction
    FOR EACH ROW EXECUTE FUNCTION loyalty_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS loyalty_ledger_append_only ON loyalty_transaction;
DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
