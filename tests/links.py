from django.conf import settings


def token_of(card_url: str) -> str:
    """The signed token of a card link (`<SITE_URL>/card/<token>/`)."""
    prefix = f"{settings.SITE_URL}/card/"
    assert card_url.startswith(prefix) and card_url.endswith("/"), card_url
    return card_url.removeprefix(prefix).removesuffix("/")
