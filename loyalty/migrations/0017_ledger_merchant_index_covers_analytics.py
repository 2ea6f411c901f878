"""The ledger's (merchant, created_at) index becomes covering, for the merchant analytics.

Built and dropped CONCURRENTLY on PostgreSQL, so that terminals keep writing to the ledger
while it builds (a plain CREATE INDEX would block every insert for the whole build); hence a
migration outside a transaction.
"""

from django.db import migrations, models

NARROW = models.Index(fields=["merchant", "created_at"], name="ledger_merchant_created")
COVERING = models.Index(
    fields=["merchant", "created_at"],
    include=[
        "type",
        "card",
        "store",
        "points_delta",
        "stamps_balance_after",
        "purchase_amount_cents",
    ],
    name="ledger_merchant_created_cover",
)


def _concurrently(schema_editor) -> dict:
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}


def cover(apps, schema_editor):
    ledger = apps.get_model("loyalty", "Transaction")
    schema_editor.add_index(ledger, COVERING, **_concurrently(schema_editor))
    schema_editor.remove_index(ledger, NARROW, **_concurrently(schema_editor))


def uncover(apps, schema_editor):
    ledger = apps.get_model("loyalty", "Transaction")
    schema_editor.add_index(ledger, NARROW, **_concurrently(schema_editor))
    schema_editor.remove_index(ledger, COVERING, **_concurrently(schema_editor))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("loyalty", "0016_email_schedules")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="transaction", name="ledger_merchant_created"),
                migrations.AddIndex(model_name="transaction", index=COVERING),
            ],
            database_operations=[migrations.RunPython(cover, uncover)],
        )
    ]
