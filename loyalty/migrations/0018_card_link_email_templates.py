"""Default templates of the two emails the customer pages send, in English, French, German and
Luxembourgish, on the layout of 0015: the card link for someone who tried to enrol again
(`loyalty_already_enrolled`) and the card link asked for at /card/lost/ (`loyalty_card_link`).

As in 0015, a row is created only when its code has no platform default in that locale.
"""

import importlib

from django.db import migrations

# code -> locale -> (subject, body)
TEMPLATES = {
    "loyalty_already_enrolled": {
        "en": (
            "Your {{ program_name }} card at {{ merchant_name }}",
            "Someone, probably you, has just tried to join {{ program_name }} at {{ merchant_name }} with this email address. You already have a card, so no second one was made: the button below opens the one you have. If this was not you, you can ignore this email.",
        ),
        "fr": (
            "Votre carte {{ program_name }} chez {{ merchant_name }}",
            "Quelqu'un, sans doute vous, vient d'essayer de s'inscrire à {{ program_name }} chez {{ merchant_name }} avec cette adresse e-mail. Vous avez déjà une carte, aucune autre n'a donc été créée : le bouton ci-dessous ouvre celle que vous avez. Si ce n'était pas vous, ignorez simplement cet e-mail.",
        ),
        "de": (
            "Ihre {{ program_name }}-Karte bei {{ merchant_name }}",
            "Jemand, wahrscheinlich Sie, hat gerade versucht, sich mit dieser E-Mail-Adresse bei {{ program_name }} von {{ merchant_name }} anzumelden. Sie haben bereits eine Karte, daher wurde keine zweite erstellt: Die Schaltfläche unten öffnet Ihre Karte. Falls Sie das nicht waren, können Sie diese E-Mail ignorieren.",
        ),
        "lb": (
            "Är {{ program_name }}-Kaart bei {{ merchant_name }}",
            "Een, wahrscheinlech Dir, huet grad probéiert, sech mat dëser E-Mail-Adress bei {{ program_name }} vun {{ merchant_name }} unzemellen. Dir hutt schonn eng Kaart, dofir gouf keng zweet gemaach: De Knäppchen hei ënnendrënner mécht Är Kaart op. Wann Dir dat net waart, kënnt Dir dës E-Mail ignoréieren.",
        ),
    },
    "loyalty_card_link": {
        "en": (
            "The link to your {{ program_name }} card",
            "You asked for the link to your {{ program_name }} card at {{ merchant_name }}: the button below opens it. Keep this email to find your card again. If you did not ask for it, you can ignore this email.",
        ),
        "fr": (
            "Le lien vers votre carte {{ program_name }}",
            "Vous avez demandé le lien vers votre carte {{ program_name }} chez {{ merchant_name }} : le bouton ci-dessous l'ouvre. Gardez cet e-mail pour retrouver votre carte. Si vous n'avez rien demandé, ignorez simplement cet e-mail.",
        ),
        "de": (
            "Der Link zu Ihrer {{ program_name }}-Karte",
            "Sie haben den Link zu Ihrer {{ program_name }}-Karte bei {{ merchant_name }} angefordert: Die Schaltfläche unten öffnet sie. Bewahren Sie diese E-Mail auf, um Ihre Karte wiederzufinden. Falls Sie ihn nicht angefordert haben, können Sie diese E-Mail ignorieren.",
        ),
        "lb": (
            "De Link op Är {{ program_name }}-Kaart",
            "Dir hutt de Link op Är {{ program_name }}-Kaart bei {{ merchant_name }} ugefrot: De Knäppchen hei ënnendrënner mécht se op. Haalt dës E-Mail, fir Är Kaart erëmzefannen. Wann Dir en net ugefrot hutt, kënnt Dir dës E-Mail ignoréieren.",
        ),
    },
}


def seed_templates(apps, schema_editor):
    layout = importlib.import_module("loyalty.migrations.0015_default_email_templates")
    EmailTemplate = apps.get_model("messaging", "EmailTemplate")
    for code, locales in TEMPLATES.items():
        for locale, (subject, body) in locales.items():
            exists = EmailTemplate.objects.filter(
                code=code, locale=locale, merchant__isnull=True, store__isnull=True
            ).exists()
            if exists:
                continue
            EmailTemplate.objects.create(
                code=code,
                locale=locale,
                subject=subject,
                text_body=layout.text_body(locale, body, False),
                html_body=layout.html_body(locale, subject, body, False),
                is_active=True,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0017_card_link_key"),
        ("messaging", "0003_email_log_and_templates"),
    ]

    operations = [migrations.RunPython(seed_templates, migrations.RunPython.noop)]
