"""The Wallet API resources of a programme (a loyaltyClass) and of a card (a loyaltyObject).

Ids are `<issuer id>.<suffix>`: `program-<id>` for a class, `card-<number>` for an object.
The object shows the points as its balance, the stamps in a text module and the card number
as a QR code (the same value the card's own QR code holds, so the till scans either).
"""

import hashlib
import json

from django.conf import settings
from django.templatetags.static import static

from loyalty import card_numbers
from loyalty.models import Card, Program

DEFAULT_LOGO = "loyalty/wallet-logo.png"
STAMPS_MODULE_ID = "stamps"


def class_id(issuer_id: str, program: Program) -> str:
    return f"{issuer_id}.program-{program.pk}"


def object_id(issuer_id: str, card: Card) -> str:
    return f"{issuer_id}.card-{card.number}"


def loyalty_class(issuer_id: str, program: Program) -> dict:
    logo = program.wallet_logo_url or f"{settings.SITE_URL}{static(DEFAULT_LOGO)}"
    return {
        "id": class_id(issuer_id, program),
        "issuerName": program.merchant.name,
        "programName": program.name,
        "programLogo": {
            "sourceUri": {"uri": logo},
            "contentDescription": {
                "defaultValue": {"language": "en", "value": f"{program.merchant.name} logo"}
            },
        },
        "hexBackgroundColor": program.wallet_background_color,
        "reviewStatus": "UNDER_REVIEW",
    }


def digest(resource: dict) -> str:
    return hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()


def loyalty_object(issuer_id: str, card: Card) -> dict:
    """The card as a pass; `card` comes with its programme and customer."""
    program = card.program
    is_live = card.is_active and card.deleted_at is None and program.deleted_at is None
    number = card_numbers.display(card.number)
    resource = {
        "id": object_id(issuer_id, card),
        "classId": class_id(issuer_id, program),
        "state": "ACTIVE" if is_live else "INACTIVE",
        "accountId": number,
        "accountName": card.customer.first_name if card.customer else number,
        "barcode": {"type": "QR_CODE", "value": card.number, "alternateText": number},
    }
    if program.has_points:
        resource["loyaltyPoints"] = {"label": "Points", "balance": {"int": card.points_balance}}
    if program.has_stamps:
        resource["textModulesData"] = [
            {
                "id": STAMPS_MODULE_ID,
                "header": "Stamps",
                "body": f"{card.stamp_count} of {program.stamps_target}",
            }
        ]
    return resource
