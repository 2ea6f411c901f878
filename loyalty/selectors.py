"""Reads shared by several callers."""

from loyalty.models import Card


def card_by_number(*, number: str, merchant_id: int) -> Card | None:
    """The merchant's live (not trashed) card with this normalised number, with its
    programme, enrolling store and customer."""
    return (
        Card.objects.select_related("program", "enrolled_store", "customer")
        .filter(number=number, program__merchant_id=merchant_id)
        .first()
    )
