from django.db import migrations


def set_fillfactor(apps, schema_editor, fillfactor):
    if schema_editor.connection.vendor != "postgresql":
        return
    setting = f"SET (fillfactor = {fillfactor})" if fillfactor else "RESET (fillfactor)"
    schema_editor.execute(f"ALTER TABLE loyalty_card {setting}")


class Migration(migrations.Migration):
    """Leave room on each page of the cards table, so that an update of a card whose indexed
    columns do not change (expiry, a warning) is a heap-only tuple update: it writes no index
    entries. Takes effect for pages written from now on; `VACUUM FULL loyalty_card` applies it
    to existing ones."""

    dependencies = [("loyalty", "0007_ledger_read_indexes_only")]

    operations = [
        migrations.RunPython(
            lambda apps, schema_editor: set_fillfactor(apps, schema_editor, 60),
            lambda apps, schema_editor: set_fillfactor(apps, schema_editor, None),
        ),
    ]
