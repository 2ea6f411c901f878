"""Each card gets a random link key, the secret its customer link is signed from (instead of
the card's id). Existing cards get theirs here, so their customers' next emails carry links
of the new kind; links sent before stop working (they were signed ids)."""

import uuid

from django.db import migrations, models


def give_link_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # One statement: a programme may have hundreds of thousands of cards.
        schema_editor.execute("UPDATE loyalty_card SET link_key = gen_random_uuid()")
        return
    Card = apps.get_model("loyalty", "Card")
    cards = list(Card.all_objects.filter(link_key__isnull=True).only("pk"))
    for card in cards:
        card.link_key = uuid.uuid4()
    Card.all_objects.bulk_update(cards, ["link_key"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0016_email_schedules"),
    ]

    operations = [
        migrations.AddField(
            model_name="card",
            name="link_key",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_link_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="card",
            name="link_key",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
    ]
