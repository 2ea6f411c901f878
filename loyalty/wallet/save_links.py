"""The "Add to Google Wallet" link: https://pay.google.com/gp/v/save/<JWT>.

The JWT is signed with the service account's key (RS256, through google-auth's signer) and
carries the programme's class and the card's object, so that saving works even before the
first push has made them at Google; where they exist, Google keeps its own copies, which the
pushes update.
"""

import time
from urllib.parse import urlsplit

from django.conf import settings
from google.auth import jwt

from loyalty.models import Card
from loyalty.wallet import config, passes

SAVE_URL = "https://pay.google.com/gp/v/save/"


def save_url(card: Card) -> str:
    """The card's save link; `card` comes with its programme, merchant and customer."""
    path = settings.GOOGLE_WALLET_SERVICE_ACCOUNT_FILE
    issuer_id = settings.GOOGLE_WALLET_ISSUER_ID
    claims = {
        "iss": config.credentials(path).service_account_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(time.time()),
        "origins": [urlsplit(settings.SITE_URL).netloc],
        "payload": {
            "loyaltyClasses": [passes.loyalty_class(issuer_id, card.program)],
            "loyaltyObjects": [passes.loyalty_object(issuer_id, card)],
        },
    }
    return SAVE_URL + jwt.encode(config.signer(path), claims).decode()
