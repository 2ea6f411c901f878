"""The platform's default email templates: the seven loyalty emails in English, French,
German and Luxembourgish (28 rows), each with a text part and an HTML part built on one
simple layout (tables and inline styles, which mail clients render alike).

A row is created only when its code has no platform default in that locale, so re-running
this migration never overwrites an operator's edit; unapplying it leaves the rows alone.
"""

from django.db import migrations

BODY = "margin:0 0 16px;"

LOCALES = {
    "en": {
        "colon": ": ",
        "greeting": "Hello {{ first_name }},",
        "button": "See my card",
        "card_number": "Card number: {{ card_number }}",
        "footer": "You receive this email because you have a {{ program_name }} card at {{ merchant_name }}.",
        "marketing_footer": "You receive this email because you agreed to hear from {{ merchant_name }}.",
        "unsubscribe": "Unsubscribe",
    },
    "fr": {
        "colon": " : ",
        "greeting": "Bonjour {{ first_name }},",
        "button": "Voir ma carte",
        "card_number": "Numéro de carte : {{ card_number }}",
        "footer": "Vous recevez cet e-mail parce que vous avez une carte {{ program_name }} chez {{ merchant_name }}.",
        "marketing_footer": "Vous recevez cet e-mail parce que vous avez accepté de recevoir des nouvelles de {{ merchant_name }}.",
        "unsubscribe": "Se désabonner",
    },
    "de": {
        "colon": ": ",
        "greeting": "Hallo {{ first_name }},",
        "button": "Meine Karte ansehen",
        "card_number": "Kartennummer: {{ card_number }}",
        "footer": "Sie erhalten diese E-Mail, weil Sie eine {{ program_name }}-Karte bei {{ merchant_name }} haben.",
        "marketing_footer": "Sie erhalten diese E-Mail, weil Sie Neuigkeiten von {{ merchant_name }} zugestimmt haben.",
        "unsubscribe": "Abmelden",
    },
    "lb": {
        "colon": ": ",
        "greeting": "Moien {{ first_name }},",
        "button": "Meng Kaart ukucken",
        "card_number": "Kaartennummer: {{ card_number }}",
        "footer": "Dir kritt dës E-Mail, well Dir eng {{ program_name }}-Kaart bei {{ merchant_name }} hutt.",
        "marketing_footer": "Dir kritt dës E-Mail, well Dir Neiegkeete vun {{ merchant_name }} zougestëmmt hutt.",
        "unsubscribe": "Ofmellen",
    },
}

REWARD = "{% if reward_description %} ({{ reward_description }}){% endif %}"

# code -> locale -> (subject, body)
TEMPLATES = {
    "loyalty_enrollment": {
        "en": (
            "Welcome to {{ program_name }} at {{ merchant_name }}",
            "Your {{ program_name }} card is ready. Show it at the till each time you shop at {{ merchant_name }}, and your purchases count towards rewards.",
        ),
        "fr": (
            "Bienvenue dans {{ program_name }} chez {{ merchant_name }}",
            "Votre carte de fidélité {{ program_name }} est prête. Présentez-la en caisse à chaque achat chez {{ merchant_name }} : vos achats comptent pour vos récompenses.",
        ),
        "de": (
            "Willkommen bei {{ program_name }} von {{ merchant_name }}",
            "Ihre Treuekarte {{ program_name }} ist bereit. Zeigen Sie sie bei jedem Einkauf bei {{ merchant_name }} an der Kasse vor, dann zählen Ihre Einkäufe für Prämien.",
        ),
        "lb": (
            "Wëllkomm bei {{ program_name }} vun {{ merchant_name }}",
            "Är Treiekaart {{ program_name }} ass prett. Weist se bei all Akaf bei {{ merchant_name }} un der Keess, da zielen Är Akeef fir Belounungen.",
        ),
    },
    "loyalty_welcome_bonus": {
        "en": (
            "{{ welcome_bonus_points }} welcome points are on your card",
            "To welcome you, {{ merchant_name }} has put {{ welcome_bonus_points }} points on your card. Your balance is {{ points_balance }} points.",
        ),
        "fr": (
            "{{ welcome_bonus_points }} points de bienvenue sur votre carte",
            "Pour vous souhaiter la bienvenue, {{ merchant_name }} a crédité {{ welcome_bonus_points }} points sur votre carte. Votre solde est de {{ points_balance }} points.",
        ),
        "de": (
            "{{ welcome_bonus_points }} Willkommenspunkte auf Ihrer Karte",
            "Zur Begrüßung hat {{ merchant_name }} Ihrer Karte {{ welcome_bonus_points }} Punkte gutgeschrieben. Ihr Punktestand beträgt {{ points_balance }} Punkte.",
        ),
        "lb": (
            "{{ welcome_bonus_points }} Wëllkommspunkten op Ärer Kaart",
            "Fir Iech wëllkomm ze heeschen, huet {{ merchant_name }} Iech {{ welcome_bonus_points }} Punkten op Är Kaart gutgeschriwwen. Äre Punktestand ass {{ points_balance }} Punkten.",
        ),
    },
    "loyalty_reward_ready": {
        "en": (
            "Your reward is ready at {{ merchant_name }}",
            "You have collected {{ stamp_count }} of {{ stamps_target }} stamps: your reward"
            + REWARD
            + " is waiting for you. Show your card at the till to claim it.",
        ),
        "fr": (
            "Votre récompense vous attend chez {{ merchant_name }}",
            "Vous avez réuni {{ stamp_count }} tampons sur {{ stamps_target }} : votre récompense"
            + REWARD
            + " vous attend. Présentez votre carte en caisse pour en profiter.",
        ),
        "de": (
            "Ihre Prämie wartet bei {{ merchant_name }}",
            "Sie haben {{ stamp_count }} von {{ stamps_target }} Stempeln gesammelt: Ihre Prämie"
            + REWARD
            + " wartet auf Sie. Zeigen Sie Ihre Karte an der Kasse, um sie einzulösen.",
        ),
        "lb": (
            "Är Belounung waart op Iech bei {{ merchant_name }}",
            "Dir hutt {{ stamp_count }} vun {{ stamps_target }} Stempele gesammelt: Är Belounung"
            + REWARD
            + " waart op Iech. Weist Är Kaart un der Keess, fir se ofzehuelen.",
        ),
    },
    "loyalty_points_expiring": {
        "en": (
            "Your {{ points_balance }} points expire on {{ expires_on }}",
            "Your {{ points_balance }} points at {{ merchant_name }} expire on {{ expires_on }}. Any purchase with your card before then keeps them.",
        ),
        "fr": (
            "Vos {{ points_balance }} points expirent le {{ expires_on }}",
            "Vos {{ points_balance }} points chez {{ merchant_name }} expirent le {{ expires_on }}. Un achat avec votre carte d'ici là suffit pour les conserver.",
        ),
        "de": (
            "Ihre {{ points_balance }} Punkte verfallen am {{ expires_on }}",
            "Ihre {{ points_balance }} Punkte bei {{ merchant_name }} verfallen am {{ expires_on }}. Ein Einkauf mit Ihrer Karte bis dahin genügt, um sie zu behalten.",
        ),
        "lb": (
            "Är {{ points_balance }} Punkte verfalen den {{ expires_on }}",
            "Är {{ points_balance }} Punkte bei {{ merchant_name }} verfalen den {{ expires_on }}. En Akaf mat Ärer Kaart bis dohin geet duer, fir se ze halen.",
        ),
    },
    "loyalty_points_expired": {
        "en": (
            "Your points at {{ merchant_name }} have expired",
            "As your card was not used for a while, its {{ points_expired }} points expired on {{ expired_on }}. Your card still works: every purchase earns new points.",
        ),
        "fr": (
            "Vos points chez {{ merchant_name }} ont expiré",
            "Votre carte n'ayant pas été utilisée depuis un moment, ses {{ points_expired }} points ont expiré le {{ expired_on }}. Votre carte reste valable : chaque achat vous rapporte de nouveaux points.",
        ),
        "de": (
            "Ihre Punkte bei {{ merchant_name }} sind verfallen",
            "Da Ihre Karte längere Zeit nicht benutzt wurde, sind ihre {{ points_expired }} Punkte am {{ expired_on }} verfallen. Ihre Karte bleibt gültig: Mit jedem Einkauf sammeln Sie neue Punkte.",
        ),
        "lb": (
            "Är Punkte bei {{ merchant_name }} sinn ofgelaf",
            "Well Är Kaart eng Zäit laang net benotzt gouf, sinn hir {{ points_expired }} Punkten den {{ expired_on }} ofgelaf. Är Kaart bleift gëlteg: mat all Akaf sammelt Dir nei Punkten.",
        ),
    },
    "loyalty_birthday": {
        "en": (
            "Happy birthday, {{ first_name }}!",
            "Everyone at {{ merchant_name }} wishes you a happy birthday. We look forward to seeing you soon.",
        ),
        "fr": (
            "Joyeux anniversaire, {{ first_name }} !",
            "Toute l'équipe de {{ merchant_name }} vous souhaite un joyeux anniversaire. Au plaisir de vous revoir bientôt.",
        ),
        "de": (
            "Alles Gute zum Geburtstag, {{ first_name }}!",
            "Das ganze Team von {{ merchant_name }} wünscht Ihnen alles Gute zum Geburtstag. Wir freuen uns auf Ihren nächsten Besuch.",
        ),
        "lb": (
            "Alles Guddes fir Äre Gebuertsdag, {{ first_name }}!",
            "D'ganz Equipe vun {{ merchant_name }} wënscht Iech alles Guddes fir Äre Gebuertsdag. Mir freeën eis op Äre nächste Besuch.",
        ),
    },
    "loyalty_reengagement": {
        "en": (
            "We miss you at {{ merchant_name }}",
            "Your last visit was {{ days_inactive }} days ago. Your card holds {{ points_balance }} points and {{ stamp_count }} stamps, waiting for your next visit.",
        ),
        "fr": (
            "Vous nous manquez chez {{ merchant_name }}",
            "Votre dernière visite remonte à {{ days_inactive }} jours. Votre carte compte {{ points_balance }} points et {{ stamp_count }} tampons, qui attendent votre prochain passage.",
        ),
        "de": (
            "Wir vermissen Sie bei {{ merchant_name }}",
            "Ihr letzter Besuch ist {{ days_inactive }} Tage her. Auf Ihrer Karte warten {{ points_balance }} Punkte und {{ stamp_count }} Stempel auf Ihren nächsten Besuch.",
        ),
        "lb": (
            "Dir feelt eis bei {{ merchant_name }}",
            "Äre leschte Besuch ass {{ days_inactive }} Deeg hier. Op Ärer Kaart waarden {{ points_balance }} Punkten an {{ stamp_count }} Stempelen op Äre nächste Besuch.",
        ),
    },
}

MARKETING = {"loyalty_birthday", "loyalty_reengagement"}


def text_body(locale: str, body: str, marketing: bool) -> str:
    words = LOCALES[locale]
    footer = words["marketing_footer"] if marketing else words["footer"]
    lines = [
        words["greeting"],
        "",
        body,
        "",
        f"{words['button']}{words['colon']}{{{{ card_url }}}}",
        words["card_number"],
        "",
        "-- ",
        footer,
    ]
    if marketing:
        lines.append(f"{words['unsubscribe']}{words['colon']}{{{{ unsubscribe_url }}}}")
    return "\n".join(lines) + "\n"


def html_body(locale: str, subject: str, body: str, marketing: bool) -> str:
    words = LOCALES[locale]
    footer = words["marketing_footer"] if marketing else words["footer"]
    if marketing:
        footer += (
            ' <a href="{{ unsubscribe_url }}" style="color:#4b5563;">'
            f"{words['unsubscribe']}</a>"
        )
    return f"""<!doctype html>
<html lang="{locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{subject}</title>
</head>
<body style="margin:0;padding:0;background:#f3f4f6;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:560px;background:#ffffff;border-radius:8px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#111827;">
<tr><td style="padding:24px 32px 0;font-size:14px;color:#4b5563;">{{{{ merchant_name }}}}</td></tr>
<tr><td style="padding:8px 32px 24px;">
<h1 style="margin:0 0 16px;font-size:22px;line-height:1.3;">{subject}</h1>
<p style="{BODY}">{words["greeting"]}</p>
<p style="{BODY}">{body}</p>
<p style="margin:24px 0;"><a href="{{{{ card_url }}}}" style="display:inline-block;padding:12px 20px;background:#1d4ed8;color:#ffffff;text-decoration:none;font-weight:bold;border-radius:6px;">{words["button"]}</a></p>
<p style="margin:0;font-size:14px;color:#4b5563;">{words["card_number"]}</p>
</td></tr>
<tr><td style="padding:16px 32px 24px;border-top:1px solid #e5e7eb;font-size:12px;color:#4b5563;">{footer}</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""


def seed_templates(apps, schema_editor):
    EmailTemplate = apps.get_model("messaging", "EmailTemplate")
    for code, locales in TEMPLATES.items():
        marketing = code in MARKETING
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
                text_body=text_body(locale, body, marketing),
                html_body=html_body(locale, subject, body, marketing),
                is_active=True,
            )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0014_program_reengagement_after_days"),
        ("messaging", "0003_email_log_and_templates"),
    ]

    operations = [migrations.RunPython(seed_templates, migrations.RunPython.noop)]
